"""Prompt formats: every string the model sees around a problem.

The tags themselves and their parsers live in the leaf module `tags.py`, which the
verifiers and the format reward import too, so the template and its parsers cannot drift:

    R1-Zero template (DeepSeek-R1 paper, Table 1), used by SRPO:
        "A conversation between User and Assistant. ... User: {prompt} Assistant:"
        the completion is  <think> reasoning </think> <answer> final answer </answer>
    math answers go in \\boxed{...} inside <answer>; code goes in a fenced ```python block.

Templates:
    r1_zero   the paper's template, verbatim apart from the per-domain instruction.
    compact   the same tags with a one-line preamble; the offline tiny world uses it so
              that a 1M-parameter model on a CPU does not spend its context on boilerplate.
    chat      the tokenizer's own chat template (instruct models), with the R1-Zero
              instructions as the system message.

Differences from the paper: the per-domain instruction (box the answer / write a python
block) is appended to the problem; SRPO's paper does not print its exact code prompt.
"""

from __future__ import annotations

from dataclasses import dataclass

# Re-exported: callers that format or parse completions may import them from here too.
from .tags import (ANSWER_CLOSE, ANSWER_OPEN, TAGS, THINK_CLOSE, THINK_OPEN,  # noqa: F401
                   extract_answer_tag, format_completion, has_format)

R1_ZERO_PREAMBLE = (
    "A conversation between User and Assistant. The user asks a question, and the "
    "Assistant solves it. The assistant first thinks about the reasoning process in the "
    "mind and then provides the user with the answer. The reasoning process and answer "
    "are enclosed within <think> </think> and <answer> </answer> tags, respectively, "
    "i.e., <think> reasoning process here </think> <answer> answer here </answer>."
)

DOMAIN_INSTRUCTIONS = {
    "math": "Put the final answer in \\boxed{}.",
    "code": "Write the solution as a Python program in a ```python code block.",
}


@dataclass(frozen=True)
class PromptTemplate:
    """A named way to turn a problem statement into the model's input text."""

    name: str
    text: str | None  # with a `{prompt}` slot; None for the tokenizer's chat template
    instruct: bool = True  # append the per-domain instruction to the problem

    def render(self, prompt: str, domain: str, tokenizer=None) -> str:
        """The model input for one problem statement of the given domain."""
        body = prompt.strip()
        if self.instruct and domain in DOMAIN_INSTRUCTIONS:
            body = f"{body} {DOMAIN_INSTRUCTIONS[domain]}"
        if self.text is not None:
            return self.text.format(prompt=body)
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise ValueError("template 'chat' needs a tokenizer that has a chat template")
        messages = [{"role": "system", "content": R1_ZERO_PREAMBLE},
                    {"role": "user", "content": body}]
        return tokenizer.apply_chat_template(messages, tokenize=False,
                                             add_generation_prompt=True)


TEMPLATES = {
    "r1_zero": PromptTemplate("r1_zero", R1_ZERO_PREAMBLE + " User: {prompt} Assistant:"),
    # The tiny world's problems carry their own short instruction, so no suffix.
    "compact": PromptTemplate("compact", "User: {prompt}\nAssistant:", instruct=False),
    "chat": PromptTemplate("chat", None),
}


def get_template(name: str) -> PromptTemplate:
    """Look up a template by name, with an error that lists the choices."""
    if name not in TEMPLATES:
        raise ValueError(f"unknown prompt template {name!r}; choose from {sorted(TEMPLATES)}")
    return TEMPLATES[name]


def render_prompt(problem, template: str = "r1_zero", tokenizer=None) -> str:
    """The model input for a `Problem` (or any object with `.prompt` and `.domain`)."""
    return get_template(template).render(problem.prompt, problem.domain, tokenizer)
