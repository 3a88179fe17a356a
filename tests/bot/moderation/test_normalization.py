"""Text normalisation shared by the moderation classifiers' training and inference."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tokenizers import Tokenizer

from bot.moderation.embeddings_features import EncoderTokenizer, bundled_encoder_dir
from bot.moderation.normalization import (
    BASIC,
    TWEET,
    HashtagSegmenter,
    UnknownNormalizationError,
    make_normalizer,
    normalize_message,
)


@pytest.fixture(scope="module")
def vocabulary() -> dict[str, int]:
    return Tokenizer.from_file(str(bundled_encoder_dir() / "tokenizer.json")).get_vocab()


@pytest.fixture(scope="module")
def tweet(vocabulary: dict[str, int]) -> Callable[[str], str]:
    return make_normalizer(TWEET, vocabulary)


def test_basic_spells_out_emojis_and_collapses_mention_runs() -> None:
    assert normalize_message("@USER @USER @USER lol 😂") == "@USER lol face with tears of joy"


def test_basic_keeps_hashtags_as_written(vocabulary: dict[str, int]) -> None:
    assert make_normalizer(BASIC, vocabulary)("#WalkAway now") == "#WalkAway now"


def test_tweet_splits_camel_case_hashtags_into_lowercase_words(tweet: Callable[[str], str]) -> None:
    assert tweet("@USER #LiberalsAreIdiots") == "@USER liberals are idiots"
    assert tweet("#RedWaveRising2018") == "red wave rising 2018"


def test_tweet_splits_run_together_lowercase_and_capital_hashtags(tweet: Callable[[str], str]) -> None:
    assert tweet("#draintheswamp #guncontrol") == "drain the swamp gun control"
    assert tweet("#AMERICAFIRST") == "america first"


def test_tweet_keeps_acronyms_names_and_single_words_whole(tweet: Callable[[str], str]) -> None:
    assert tweet("#MAGA #POTUS #Maddow #conservatives") == "maga potus maddow conservatives"


def test_tweet_turns_the_url_placeholder_into_one_vocabulary_word(
    tweet: Callable[[str], str], vocabulary: dict[str, int]
) -> None:
    assert tweet("look at this URL") == "look at this link"
    assert "link" in vocabulary


def test_tweet_names_a_repeated_emoji_once_and_drops_skin_tones_and_flag_letters(
    tweet: Callable[[str], str],
) -> None:
    assert tweet("so funny 😂😂😂") == "so funny face with tears of joy"
    assert tweet("well done 👏🏼 🇺🇸") == "well done clapping hands sign flag"


def test_tweet_leaves_plain_text_alone(tweet: Callable[[str], str]) -> None:
    assert tweet("  You are  all idiots!!!  ") == "You are all idiots!!!"


def test_segmenter_prefers_common_words_and_gives_up_on_unknown_strings() -> None:
    segmenter = HashtagSegmenter({"walk": 3.0, "away": 2.0, "wal": 9.0, "kaway": 9.0})
    assert segmenter.split_word("walkaway") == ["walk", "away"]
    assert segmenter.split_word("xqzvwk") == ["xqzvwk"]


def test_the_tokenizer_applies_the_named_normalisation() -> None:
    basic_ids, _ = EncoderTokenizer(normalization=BASIC)(["#guncontrol"])
    tweet_ids, _ = EncoderTokenizer(normalization=TWEET)(["#guncontrol"])
    plain_ids, _ = EncoderTokenizer(normalization=BASIC)(["gun control"])
    assert tweet_ids.tolist() == plain_ids.tolist()
    assert basic_ids.tolist() != plain_ids.tolist()


def test_an_unknown_normalisation_name_is_refused(vocabulary: dict[str, int]) -> None:
    with pytest.raises(UnknownNormalizationError, match="tweet"):
        make_normalizer("shouting", vocabulary)
