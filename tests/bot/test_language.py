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


def test_a_script_used_by_one_configured_language_decides_without_loading_any_model() -> None:
    detector = LanguageDetector()
    samples = {"مرحبا، متى تفتحون غدا؟": "ar", "Привет, когда вы открываетесь?": "ru", "आप कब खुलते हैं?": "hi"}
    for text, code in samples.items():
        assert (detector.detect(text).code, detector.detect(text).reliable) == (code, True), text
    assert detector._detectors == {}


def test_cyrillic_shared_by_two_configured_languages_is_left_to_the_models() -> None:
    detector = LanguageDetector(languages=("en", "ru", "uk"))
    assert detector.detect("Доброго дня, коли ви відкриваєтесь сьогодні ввечері?").code == "uk"


def test_a_clear_long_text_is_answered_by_the_quick_models_until_the_full_ones_are_loaded() -> None:
    detector = LanguageDetector()
    text = "Could you please tell me when my order will be delivered, and whether I can change the address?"
    assert detector.detect(text).code == "en"
    assert [low for _, low in detector._detectors] == [True]  # only the trigram models were built
    detector.warm_up()
    assert detector.detect(text).code == "en"
    assert sorted(low for _, low in detector._detectors) == [False, True]


def test_an_unsure_short_text_loads_the_full_models_and_they_answer_from_then_on() -> None:
    detector = LanguageDetector()
    assert detector.detect("Quanto custa a entrega?").code == "pt"
    assert detector._full_models_loaded


def test_a_text_asked_about_again_gets_the_kept_guess_once_the_full_models_answer() -> None:
    detector = LanguageDetector()
    text = "Could you please tell me when my order will be delivered, and whether I can change the address?"
    quick = detector.detect(text)
    assert detector.detect(text) is not quick  # a quick model's guess is not kept: the full models may differ
    detector.warm_up()
    full = detector.detect(text)
    assert detector.detect(text) is full
    assert detector.detect("Quanto custa a entrega?").code == "pt"
    detector.forget_guesses()
    again = detector.detect(text)
    assert again is not full and (again.code, again.reliable) == (full.code, full.reliable)


# Short questions whose one long word is borrowed: n-grams alone read several of them as French or Italian.
SHORT_ENGLISH_WITH_LOANWORDS = (
    "do you sell vegan croissants",
    "can I order a baguette",
    "is the paella gluten free",
    "do you have fresh churros",
    "what is in the tiramisu",
    "how much is a cappuccino",
    "do you serve bratwurst",
    "any pain au chocolat left",
    "is the gnocchi vegan",
    "can i get a latte to go",
    "do you make quiche",
    "do you have sauerkraut",
    "is there chorizo in it",
    "do you deliver pretzels",
    "are the crêpes sweet",
    "is the café open",
    "do you have croque monsieur",
    "is the fondue for two",
)
SHORT_QUESTIONS_IN_OTHER_LANGUAGES = {
    "je voudrais un croissant": "fr",
    "vous avez des crêpes": "fr",
    "¿tienen churros?": "es",
    "hay paella hoy": "es",
    "habt ihr Brezeln": "de",
    "ist der Kuchen vegan": "de",
    "avete il tiramisù": "it",
    "quanto costa la pizza": "it",
    "vocês têm pão de queijo": "pt",
    "hebben jullie stroopwafels": "nl",
    "czy macie pierogi": "pl",
    "baklava var mı": "tr",
}


def test_short_english_questions_with_a_borrowed_food_word_are_english() -> None:
    for quick_margin in (0.99, None):  # the quick models of a first message, and the full ones
        detector = LanguageDetector(quick_margin=quick_margin)
        for text in SHORT_ENGLISH_WITH_LOANWORDS:
            detector._full_models_loaded = False
            assert detector.detect(text).code == "en", text


def test_short_questions_in_other_languages_keep_their_language() -> None:
    detector = LanguageDetector()
    for text, code in SHORT_QUESTIONS_IN_OTHER_LANGUAGES.items():
        guess = detector.detect(text)
        assert (guess.code, guess.reliable) == (code, True), text


def test_without_the_function_word_check_the_ngrams_alone_misread_some_of_them() -> None:
    detector = LanguageDetector(function_words=False)
    misread = [text for text in SHORT_ENGLISH_WITH_LOANWORDS if detector.detect(text).code != "en"]
    assert "do you sell vegan croissants" in misread


def test_function_words_make_an_unsure_short_text_reliable() -> None:
    detector = LanguageDetector()
    assert detector.detect("dove siete").code == "it"


def test_a_short_text_the_ngrams_cannot_tell_apart_keeps_the_conversations_language() -> None:
    detector = LanguageDetector()
    without = detector.detect("ok merci")
    after_english = detector.detect("ok merci", prior="en")
    assert after_english.code == "en" and after_english.reliable
    assert without.code != "en" or not without.reliable


def test_a_clear_text_in_another_language_is_not_held_back_by_the_conversations_language() -> None:
    detector = LanguageDetector()
    for text, code in SHORT_QUESTIONS_IN_OTHER_LANGUAGES.items():
        assert detector.detect(text, prior="en").code == code, text
    assert detector.detect("what time do you close", prior="fr").code == "en"
    assert detector.detect("bonne journée", prior="en").code == "fr"


def test_long_texts_ignore_the_prior() -> None:
    detector = LanguageDetector()
    text = "Bonjour, je voudrais savoir si vous livrez aussi le dimanche matin à Lyon"
    with_prior, without = detector.detect(text, prior="en"), detector.detect(text)
    assert (with_prior.code, with_prior.reliable) == (without.code, without.reliable) == ("fr", True)
