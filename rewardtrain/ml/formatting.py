"""How a (prompt, response) pair becomes model input ids.

Two layouts, recorded in the model folder's ``rewardtrain.json`` so scoring later uses the same:

* ``pair`` (encoders: BERT, RoBERTa, DeBERTa): the tokenizer's own text-pair template,
  ``[CLS] prompt [SEP] response [SEP]`` for BERT, exactly what ``tokenizer(prompt, response)``
  gives when nothing is truncated.
* ``concat`` (decoders: GPT-2, Llama, Qwen): ``prompt + separator + response + response_suffix``
  as one text, exactly what ``tokenizer(text)`` gives; the reward is read at the last real token.
  ``separator`` is only inserted when neither side already has whitespace at the join.

Truncation always keeps the response: the prompt loses tokens from its START first (the end of a
conversation is what the response answers); only a response that alone exceeds ``max_length``
is cut, at its end.  Rows are never dropped; truncations are counted so callers can report them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

FORMAT_KINDS = ("pair", "concat")


@dataclass
class InputFormat:
    kind: str  # "pair" or "concat"
    max_length: int
    last_token_pooling: bool  # decoders: read the reward at the last real token
    separator: str = " "
    response_suffix: str = ""

    def __post_init__(self) -> None:
        if self.kind not in FORMAT_KINDS:
            raise ValueError(f"input format kind must be one of {FORMAT_KINDS}, got {self.kind!r}")

    def to_dict(self) -> dict:
        return {**asdict(self), "truncation": "prompt start first, then response end"}

    @classmethod
    def from_dict(cls, values: dict) -> "InputFormat":
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})


def _find(haystack: list[int], needle: list[int], start: int = 0) -> int:
    for i in range(start, len(haystack) - len(needle) + 1):
        if haystack[i : i + len(needle)] == needle:
            return i
    raise ValueError("cannot locate probe text in the tokenizer's template output")


class Formatter:
    """Turns (prompt, response) texts into ``(input_ids, token_type_ids or None)``.

    The special-token template is learned by probing the tokenizer with two sample texts, which
    works for any Hugging Face tokenizer without relying on per-class helper methods.
    """

    def __init__(self, tokenizer, fmt: InputFormat):
        self.tokenizer, self.fmt = tokenizer, fmt
        self.uses_token_types = "token_type_ids" in getattr(tokenizer, "model_input_names", [])
        self.pad_id = tokenizer.pad_token_id
        self.truncated_prompts = 0
        self.truncated_responses = 0
        a = self._plain(["alpha"])[0]
        b = self._plain(["bravo"])[0]
        if fmt.kind == "pair":
            probe = tokenizer("alpha", "bravo")
            ids, types = probe["input_ids"], probe.get("token_type_ids") or [0] * len(probe["input_ids"])
            ia = _find(ids, a)
            ib = _find(ids, b, ia + len(a))
            self.parts = (ids[:ia], ids[ia + len(a) : ib], ids[ib + len(b) :])
            self.part_types = (types[:ia], types[ia + len(a) : ib], types[ib + len(b) :])
            self.seg_types = (types[ia], types[ib])
        else:
            ids = tokenizer("alpha")["input_ids"]
            ia = _find(ids, a)
            self.parts = (ids[:ia], [], ids[ia + len(a) :])
        self.budget = fmt.max_length - sum(len(p) for p in self.parts)
        if self.budget < 2:
            raise ValueError(f"max_length {fmt.max_length} leaves no room after special tokens")

    def _plain(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer(texts, add_special_tokens=False)["input_ids"]

    def join(self, prompt: str, response: str) -> tuple[str, int]:
        """The concat text and the character offset where the response starts."""
        sep = self.fmt.separator
        if not prompt or not response or prompt[-1].isspace() or response[0].isspace():
            sep = ""
        head = prompt + sep
        return head + response + self.fmt.response_suffix, len(head)

    def encode(self, prompts: list[str], responses: list[str]) -> list[tuple[list[int], list[int] | None]]:
        if self.fmt.kind == "pair":
            return self._encode_pairs(prompts, responses)
        return self._encode_concat(prompts, responses)

    def _fit(self, prompt_ids: list[int], response_ids: list[int]) -> tuple[list[int], list[int]]:
        room = self.budget - len(response_ids)
        if room < 0:
            self.truncated_responses += 1
            return [], response_ids[: self.budget]
        if len(prompt_ids) > room:
            self.truncated_prompts += 1
            return prompt_ids[len(prompt_ids) - room :], response_ids
        return prompt_ids, response_ids

    def _encode_pairs(self, prompts, responses):
        # Tokenize each distinct text once: in preference data every prompt appears 2+ times.
        unique_p = list(dict.fromkeys(prompts))
        unique_r = list(dict.fromkeys(r + self.fmt.response_suffix for r in responses))
        p_ids = dict(zip(unique_p, self._plain(unique_p)))
        r_ids = dict(zip(unique_r, self._plain(unique_r)))
        pre, mid, post = self.parts
        pre_t, mid_t, post_t = self.part_types
        type_a, type_b = self.seg_types
        out = []
        for prompt, response in zip(prompts, responses):
            p, r = self._fit(p_ids[prompt], r_ids[response + self.fmt.response_suffix])
            ids = pre + p + mid + r + post
            types = None
            if self.uses_token_types:
                types = pre_t + [type_a] * len(p) + mid_t + [type_b] * len(r) + post_t
            out.append((ids, types))
        return out

    def _encode_concat(self, prompts, responses):
        joined = [self.join(p, r) for p, r in zip(prompts, responses)]
        texts = [text for text, _ in joined]
        try:
            enc = self.tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
            # Tokens that begin before the response (including one straddling the join) are prompt.
            splits = [sum(1 for s, _ in offsets if s < start) for (_, start), offsets in zip(joined, enc["offset_mapping"])]
            all_ids = enc["input_ids"]
        except NotImplementedError:  # tokenizers without offsets: tokenize the two parts apart
            heads = self._plain([text[:start] for text, start in joined])
            tails = self._plain([text[start:] for text, start in joined])
            splits = [len(h) for h in heads]
            all_ids = [h + t for h, t in zip(heads, tails)]
        pre, _, post = self.parts
        out = []
        for ids, n_prompt in zip(all_ids, splits):
            p, r = self._fit(ids[:n_prompt], ids[n_prompt:])
            body = p + r
            # A trailing pad token (pad == eos for most decoders) carries no content, and
            # Hugging Face's own pooling skips it too; dropping it keeps both scorers equal.
            while len(body) > 1 and body[-1] == self.pad_id and self.fmt.last_token_pooling:
                body.pop()
            out.append((pre + body + post, None))
        return out
