"""The Anthropic HH-RLHF transcript format ("\\n\\nHuman: ...\\n\\nAssistant: ..."), both ways: parsing a
transcript's prompt into chat messages (pair imports) and building a transcript (snapshot exports)."""
import re

HH_ASSISTANT = "\n\nAssistant:"
HH_TURN = re.compile(r"\n\n(Human|Assistant):[ ]?")
HH_ROLES = {"Human": "user", "Assistant": "assistant"}  # transcript name -> chat role


def hh_messages(prompt_text: str) -> list[dict]:
    """The chat messages of a transcript's prompt (everything up to its open final Assistant turn)."""
    parts = HH_TURN.split(prompt_text)
    # parts: [preamble, role, content, role, content, ...]; the last Assistant turn is the open one.
    turns = [{"role": HH_ROLES[parts[i]], "content": parts[i + 1].strip()} for i in range(1, len(parts) - 1, 2)]
    if turns and turns[-1]["role"] == "assistant" and not turns[-1]["content"]:
        turns.pop()
    return [t for t in turns if t["content"]]


def hh_escape(text: str) -> str:
    """Text for inside one turn: a "\n\nHuman:" or "\n\nAssistant:" in it would start a fake turn, so
    it gets a space after the blank line ("\n\n Human:"), which no HH reader takes for a turn."""
    return HH_TURN_START.sub(lambda m: f"\n\n {m.group(1)}:", text)


HH_TURN_START = re.compile(r"\n\n(Human|Assistant):")


def hh_transcript(*, prompt: str, messages: list[dict] | None, answer: str) -> str:
    """A transcript of the prompt (chat messages, or its text as one user turn) answered by `answer`;
    turn markers inside the texts are escaped (hh_escape)."""
    if not messages and prompt.lstrip("\n").startswith("Human:"):
        # Already a transcript (an imported HH prompt kept as text): close its open Assistant turn.
        return "\n\n" + prompt.lstrip("\n").removesuffix(HH_ASSISTANT).rstrip() + f"{HH_ASSISTANT} {hh_escape(answer)}"
    names = {role: name for name, role in HH_ROLES.items()}
    turns = "".join(f"\n\n{names.get(m['role'], m['role'].title())}: {hh_escape(m['content'])}"
                    for m in messages or [{"role": "user", "content": prompt}])
    return f"{turns}{HH_ASSISTANT} {hh_escape(answer)}"
