"""Writes annotation/demo_data/demo_pairs.jsonl: the demo's judged pairs (TRL format), so that `make run`'s
pairwise demo project can be snapshotted and trained at once. Deterministic; run it again to regenerate.

The preference is learnable but not "longer wins": chosen answers are on-topic, concrete and polite
(some short), rejected ones dismissive, rude, careless or long and off-topic."""
import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "annotation" / "demo_data" / "demo_pairs.jsonl"

TASKS = [
    "keep basil alive indoors", "sort a list of dictionaries by a key in Python", "get better sleep",
    "write a polite follow-up email after an interview", "remove a red wine stain from a carpet",
    "start running as a complete beginner", "back up the photos on my phone", "make a simple sourdough starter",
    "prepare for a job interview", "reduce my monthly grocery bill", "learn basic Spanish phrases for a trip",
    "fix a slow Wi-Fi connection at home", "write a unit test for a function", "ask my manager for a raise",
    "clean a cast-iron pan", "read a nutrition label", "set up a monthly budget", "improve my handwriting",
    "explain recursion to a beginner", "care for a new puppy", "choose a good password", "memorize a short speech",
    "plan a weekend trip on a budget", "calm down before an exam", "repot a houseplant", "brew good coffee at home",
    "write a cover letter", "organize a small closet", "resolve a merge conflict in git", "stretch after a workout",
    "teach a child to ride a bike", "cook rice on the stove", "reduce screen time", "give constructive feedback",
    "read a research paper efficiently", "descale an electric kettle", "start journaling", "negotiate rent",
    "keep a conversation going", "find a bug with print statements", "pack a carry-on bag", "make cold brew tea",
    "write a clear bug report", "save for an emergency fund", "prepare a short presentation",
    "fold a fitted sheet", "store fresh herbs", "learn to touch type", "compost kitchen scraps at home",
    "take better photos with a phone",
]
QUESTIONS = ["How do I {t}?", "What is the best way to {t}?", "Can you explain how to {t}, step by step?"]
OPENERS = ["Here is a reliable way to {t}:", "Good question. To {t}, work through it in small steps:",
           "A simple plan to {t}:", "You can {t} without special tools. Try this:"]
STEPS = [
    "Start by deciding what a good result looks like, so you know when you are done.",
    "Gather what you need first; it saves interruptions halfway through.",
    "Do one small part first and check that it worked before doing the rest.",
    "Keep notes of what you tried, so you can repeat what worked.",
    "Set aside a fixed, short block of time rather than waiting for a free afternoon.",
    "Ask someone who has done it before to look over your first attempt.",
    "Expect the first try to be imperfect; adjust one thing at a time.",
    "Read the instructions or documentation once, fully, before starting.",
]
CLOSERS = ["If anything is unclear, tell me where you got stuck and I can go into more detail.",
           "Be patient with yourself: most people get it right on the second or third try.",
           "Safety note: stop if anything feels wrong, and ask an expert when in doubt.",
           "That is usually enough; come back with specifics if your situation is unusual."]
CONCISE = ["Short answer: do it in small, checked steps, and keep what works. The key to {t} is consistency.",
           "In brief: prepare first, try a small part, check it, then finish. That is how most people {t} well."]
REJECTED = {
    "dismissive": ["Just google it.", "No idea, figure it out yourself.", "Look it up, it is not my job.",
                   "Why would you want to {t}? Never mind."],
    "rude": ["That is a silly question. Everyone knows how to {t}.",
             "Honestly, if you cannot {t} already, I am not sure anyone can help you.",
             "Ugh. Fine: just do it. Stop asking obvious things."],
    "careless": ["Skip the preparation, nobody does that. Just rush it and hope for the best.",
                 "Do everything at once and do not bother checking; mistakes rarely matter.",
                 "Whatever you do, do not ask anyone for help with it. Guessing is faster."],
    "off_topic": ["That reminds me of something else entirely. Last summer I spent a week reading about the history "
                  "of lighthouses, which is fascinating: the keepers lived isolated lives, trimmed wicks every few "
                  "hours and kept logs of passing ships. Some lighthouses were automated in the last century, and "
                  "many are now museums. Anyway, the weather has been strange lately, and I think people should talk "
                  "about clouds more often, because cumulus and stratus are very different in how they form.",
                  "Before anything else, let me tell you about my favourite board games. There is one with trains, "
                  "one with islands, and one where you trade sheep for bricks. Game nights are a great way to spend "
                  "an evening with friends, although deciding who goes first always takes a while. I also enjoy "
                  "jigsaw puzzles with a thousand pieces or more, especially landscapes with a lot of sky."],
}


def chosen(rng: random.Random, t: str) -> str:
    if rng.random() < 0.25:
        return rng.choice(CONCISE).format(t=t)
    steps = rng.sample(STEPS, 3)
    body = "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))
    return f"{rng.choice(OPENERS).format(t=t)}\n\n{body}\n\n{rng.choice(CLOSERS)}"


def main() -> None:
    rng = random.Random(20261201)
    with OUT.open("w") as out:
        for t in TASKS:
            for q in QUESTIONS:
                styles = rng.sample(sorted(REJECTED), 2)
                for style in styles:
                    row = {"prompt": q.format(t=t), "chosen": chosen(rng, t),
                           "rejected": rng.choice(REJECTED[style]).format(t=t)}
                    out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
