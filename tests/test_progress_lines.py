"""Progress where no terminal is: plain lines about every tenth of the work, on a terminal the rich bar."""

import io
import subprocess
import sys

from creative4u_small.cli.common import progress_bar
from creative4u_small.cli.progress_lines import LineProgress, duration, progress_line


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_off_a_terminal_a_line_goes_out_each_tenth_with_rate_and_eta():
    stream = io.StringIO()
    progress, update = progress_bar("teacher sft", stream=stream)
    assert isinstance(progress, LineProgress)
    with progress:
        for step in range(1, 41):
            update(step, 40)
        for done in range(1, 3):
            update(done, 2, "eval generate")
    lines = stream.getvalue().splitlines()
    sft = [line for line in lines if line.startswith("teacher sft: ")]
    assert [line.split()[2] for line in sft] == ["1/40", "4/40", "8/40", "12/40", "16/40", "20/40", "24/40", "28/40",
                                                   "32/40", "36/40", "40/40"]
    assert all("/s" in line or "s each" in line for line in sft[1:]) and "ETA" in sft[5] and "ETA" not in sft[-1]
    assert [line.split(",")[0] for line in lines[len(sft):]] == ["eval generate: 1/2 (50%)", "eval generate: 2/2 (100%)"]
    assert "\x1b" not in stream.getvalue()  # no terminal codes in a log file


def test_on_a_terminal_the_rich_bar_stays():
    progress, _ = progress_bar("label", stream=Terminal())
    assert not isinstance(progress, LineProgress)


def test_line_format():
    assert progress_line("label", 3, 10, 0.5, 6.0) == "label: 3/10 (30%), 2.0s each, elapsed 6s, ETA 14s"
    assert progress_line("annotate", 7, None, 2.0, 3.5) == "annotate: 7, 2.0/s, elapsed 4s"
    assert (duration(59), duration(61), duration(3725)) == ("59s", "1m01s", "1h02m")


def test_a_command_with_stderr_to_a_file_prints_lines(tmp_path):
    log = tmp_path / "stderr.log"
    c4u = [sys.executable, "-m", "creative4u_small.cli"]
    with open(log, "w") as fh:
        result = subprocess.run([*c4u, "data", "synth", "--n", "20", "--out", str(tmp_path / "synth"), "--image-size", "32"],
                                stdout=subprocess.PIPE, stderr=fh, text=True, timeout=300)
    assert result.returncode == 0
    lines = [line for line in log.read_text().splitlines() if line.startswith("synth: ")]
    assert lines[-1].startswith("synth: 20/20 (100%)") and 2 <= len(lines) <= 11
