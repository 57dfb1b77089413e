"""Teacher CoT-SFT: trl's ``SFTTrainer`` on ``<think>protocol…</think><answer>X</answer>`` completions.

Every pair is shown in both image orders (the swapped row uses
``protocol.swap_teacher_completion``), the loss covers the completion only, LoRA is optional and
merged into the saved model, and the same code runs under ``accelerate launch`` (DDP).
"""

from __future__ import annotations

from creative4u_small.contract import protocol
from creative4u_small.contract.pairs import CreativePair
from creative4u_small.data.hf_dataset import prompt_completion_dataset
from creative4u_small.distill.teacher.sft_config import TeacherSFTConfig
from creative4u_small.distill.teacher.teacher_training import train_teacher
from creative4u_small.distill.token_weights import decision_weights
from creative4u_small.distill.training_run import checkpoint_dir, lora_config

STAGE = "teacher-sft"


class PairedOrderSampler:
    """Shuffles pairs, not rows: a pair's two image orders (adjacent rows) always share a batch.

    With both orders in one batch, whatever the loss gains by favouring a position (say,
    Creative A) in one row it loses in the other, so the batch's gradient is the image
    comparison itself (docs/training.md has the held-out accuracy with and without it). An odd batch
    size splits one pair per batch.
    """

    def __init__(self, rows: int, seed: int = 0):
        if rows % 2:
            raise ValueError(f"expected two rows (AB, BA) per pair, got {rows} rows")
        self.rows, self.seed, self.epoch = rows, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.rows

    def __iter__(self):
        import torch

        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        self.epoch += 1
        for pair in torch.randperm(self.rows // 2, generator=g).tolist():
            yield 2 * pair
            yield 2 * pair + 1


def weighted_sft_trainer_class():
    """trl's ``SFTTrainer`` with pairs kept whole in batches and the comparison tokens weighted.

    A teacher rationale is mostly template, learned in a few hundred steps; the tokens that must
    be read off the images (the ``>``, ``=``, ``<`` of each protocol line) then carry a sliver of
    the loss. The weights scale trl's fused per-token log-probabilities before trl sums them, so
    trl's own loss reduction, metrics and DDP handling stay as they are (the logged loss is the
    weighted one).
    """
    from trl import SFTTrainer

    class DecisionWeightedSFTTrainer(SFTTrainer):
        def __init__(self, *args, decision_ids: frozenset[int], decision_weight: float, paired_orders: bool, **kwargs):
            super().__init__(*args, **kwargs)
            self.decision_ids, self.decision_weight, self.paired_orders = decision_ids, decision_weight, paired_orders
            self._weights = None
            if decision_weight != 1.0:
                self.model.register_forward_hook(self._weigh_log_probs)

        def _get_train_sampler(self, train_dataset=None):
            if not self.paired_orders:
                return super()._get_train_sampler(train_dataset)
            return PairedOrderSampler(len(train_dataset if train_dataset is not None else self.train_dataset), self.args.seed)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs.get("labels")
            if self.decision_weight != 1.0 and labels is not None:
                self._weights = decision_weights(labels[:, 1:], self.decision_ids, self.decision_weight)
            try:
                return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
            finally:
                self._weights = None

        def _weigh_log_probs(self, module, args, output):
            log_probs = getattr(output, "log_probs", None)
            if self._weights is not None and log_probs is not None and log_probs.shape == self._weights.shape:
                output.log_probs = log_probs * self._weights.to(log_probs.dtype)
            return output

    return DecisionWeightedSFTTrainer


def build_sft_trainer(config: TeacherSFTConfig, pairs: list[CreativePair], model, processor):
    """The trl SFTTrainer for the teacher format (exposed so tests can inspect batches)."""
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    dataset = prompt_completion_dataset(pairs, both_orders=config.both_orders, with_completion=True, upright=True)
    collator = DataCollatorForVisionLanguageModeling(processor, max_length=None, completion_only_loss=True)
    return weighted_sft_trainer_class()(
        model=model,
        args=config.training_args(str(checkpoint_dir(config.out))),
        train_dataset=dataset,
        processing_class=processor,
        data_collator=collator,
        peft_config=lora_config(config),
        decision_ids=protocol.decision_token_ids(processor.tokenizer),
        decision_weight=config.decision_weight,
        paired_orders=config.both_orders,  # prompt_completion_dataset lays rows out AB, BA per pair
    )


def train_sft(config: TeacherSFTConfig, progress=None) -> dict:
    """Run CoT-SFT and publish the (merged) model into ``config.out``; returns a summary."""
    return train_teacher(config, STAGE, build_sft_trainer, lambda trainer: {"rows": len(trainer.train_dataset)},
                         progress, need_rationale=True)
