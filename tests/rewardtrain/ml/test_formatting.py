from rewardtrain.ml.formatting import Formatter, InputFormat

from .conftest import gpt2_tokenizer

LONG_PROMPT = " ".join(f"w{i}" for i in range(100)) + " END"


def test_encoder_pair_matches_the_tokenizers_own_text_pair(minilm_tokenizer):
    formatter = Formatter(minilm_tokenizer, InputFormat("pair", 64, last_token_pooling=False))
    [(ids, types)] = formatter.encode(["Is the sky blue?"], ["Yes, it is."])
    expected = minilm_tokenizer("Is the sky blue?", "Yes, it is.")
    assert ids == expected["input_ids"]
    assert types == expected["token_type_ids"]


def test_truncation_cuts_the_prompt_start_and_keeps_the_response(minilm_tokenizer):
    formatter = Formatter(minilm_tokenizer, InputFormat("pair", 24, last_token_pooling=False))
    [(ids, types)] = formatter.encode([LONG_PROMPT], ["the final answer"])
    text = minilm_tokenizer.decode(ids)
    assert len(ids) == 24
    assert text.endswith("end [SEP] the final answer [SEP]")
    assert "w0 " not in text and "w99" in text
    assert types[-1] == 1 and formatter.truncated_prompts == 1


def test_a_response_longer_than_max_length_keeps_its_start(minilm_tokenizer):
    formatter = Formatter(minilm_tokenizer, InputFormat("pair", 16, last_token_pooling=False))
    response = " ".join(f"r{i}" for i in range(40))
    [(ids, _)] = formatter.encode(["prompt"], [response])
    assert len(ids) == 16
    assert minilm_tokenizer.decode(ids).startswith("[CLS] [SEP] r0")
    assert formatter.truncated_responses == 1


def test_decoder_concat_matches_plain_tokenization_and_truncates_left():
    tokenizer = gpt2_tokenizer()
    formatter = Formatter(tokenizer, InputFormat("concat", 12, last_token_pooling=True))
    (short, _), (long, _) = formatter.encode(["the cat", LONG_PROMPT.replace("w", "dog ")], ["runs fast", "sits over the tree"])
    assert short == tokenizer("the cat runs fast")["input_ids"]
    assert len(long) == 12
    assert tokenizer.decode(long).endswith("sits over the tree")


def test_decoder_drops_a_trailing_pad_eos_token():
    # Hugging Face pools at the last non-pad token, so with pad == eos a trailing eos is skipped
    # there; dropping it here keeps our score identical to a plain from_pretrained model.
    tokenizer = gpt2_tokenizer()
    formatter = Formatter(tokenizer, InputFormat("concat", 32, last_token_pooling=True))
    [(ids, _)] = formatter.encode(["the cat <|endoftext|> a dog"], ["runs <|endoftext|>"])
    assert ids == tokenizer("the cat <|endoftext|> a dog runs")["input_ids"]
