// The Creative Evaluation Protocol of one compare: Q1–Q10 as a table with A / B / = marks, and the free text.

const MARKS = { "A>B": "A", "A<B": "B", "A=B": "=", A: "A", B: "B", yes: "yes", no: "no" };
const MARK_WORDS = { A: "favours A", B: "favours B", "=": "even", yes: "yes", no: "no" };

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

/** The protocol's questions, from the page's data attribute (written by the server from its protocol module). */
export function questions(section) {
  return JSON.parse(section.dataset.questions || "[]");
}

/** The mark of one answer: A, B or = for a comparison (and Q10), yes or no for Q1 and Q2. */
export function mark(answer) {
  return MARKS[answer] || "?";
}

function table(qs, protocol, a, b) {
  const t = el("table", undefined, "protocol");
  const caption = el("caption", `Creative Evaluation Protocol — A: ${a.name}, B: ${b.name}`);
  t.append(caption);
  const head = t.createTHead().insertRow();
  for (const h of ["Question", "Aspect", "Answer", "Mark"]) {
    const th = el("th", h);
    th.scope = "col";
    head.append(th);
  }
  const body = t.createTBody();
  for (const q of qs) {
    const answer = protocol[q.key] ?? "";
    const m = mark(answer);
    const row = body.insertRow();
    const key = el("th", q.key);
    key.scope = "row";
    row.append(key, el("td", q.label), el("td", answer));
    const cell = el("td", undefined, "mark-cell");
    const badge = el("span", m, `mark mark-${m === "=" ? "eq" : m.toLowerCase()}`);
    badge.title = MARK_WORDS[m] || "";
    cell.append(badge);
    row.append(cell);
  }
  return t;
}

/**
 * Fill ``section`` with the explanation of ``result`` (a /v1/compare answer with explain=true)
 * for creatives ``a`` and ``b`` (objects with a ``name``), shown as A and B.
 */
export function showExplanation(section, result, a, b) {
  const verdict = section.querySelector("#explain-verdict");
  const box = section.querySelector("#explain-body");
  box.replaceChildren();
  const winner = result.winner === "A" ? a : b;
  const pA = Number(result.p_a);
  verdict.textContent = `Creative ${result.winner} (${winner.name}) is more likely to be clicked: `
    + `P(A wins) = ${pA.toFixed(3)}${result.consistent ? ", the same in both orders" : ", the two orders disagree"}.`;
  const ex = result.explanation;
  if (!ex) {
    box.append(el("p", "The server sent no explanation."));
  } else if (!ex.parsed) {
    box.append(el("p", `The model's explanation does not follow the protocol (${ex.error || "unparsed"}); its raw text:`, "note"));
    box.append(el("pre", ex.text || "(empty)", "raw"));
  } else {
    box.append(table(questions(section), ex.protocol || {}, a, b));
    if (ex.q10_matches_verdict === false) box.append(el("p", "Note: Q10 names the other creative than the verdict.", "note"));
    box.append(el("h3", "In the model's words"));
    box.append(el("p", ex.reasoning || "(no free text)", "reasoning"));
  }
  section.hidden = false;
}
