from bot.language import LanguageDetector, detect_language


def test_sentences_in_the_six_catalogue_languages_are_recognised() -> None:
    samples = {
        "How much does delivery cost?": "en",
        "你们几点开门？": "zh",
        "Hola, ¿a qué hora abren mañana?": "es",
        "Bonjour, vous êtes ouverts lundi ?": "fr",
        "Wie viel kostet die Lieferung?": "de",
        "Quanto custa a entrega?": "pt",
    }
    for text, code in samples.items():
        guess = detect_language(text)
        assert (guess.code, guess.reliable) == (code, True), text


def test_too_short_or_letterless_texts_fall_back_to_the_default_and_say_so() -> None:
    detector = LanguageDetector(default="en")
    for text in ["", "ok", "12345", "👍", "hi"]:
        guess = detector.detect(text)
        assert guess.code == "en"
        assert guess.reliable is False


def test_scripts_decide_between_chinese_japanese_and_korean() -> None:
    detector = LanguageDetector()
    assert detector.detect("ありがとうございます").code == "ja"
    assert detector.detect("감사합니다").code == "ko"
    assert detector.detect("谢谢你").code == "zh"


def test_mentions_links_and_numbers_do_not_sway_the_guess() -> None:
    guess = detect_language("@shopbot https://example.com/order/123 Wo ist meine Bestellung 4455?")
    assert guess.code == "de"
