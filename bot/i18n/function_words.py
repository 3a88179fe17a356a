"""Function words of the Latin-script languages the detector knows: the evidence a short chat message does carry.

An n-gram detector reads "do you sell vegan croissants" as French (the one long word is French); the words that
say English are "do" and "you". Articles, pronouns, auxiliaries, question words and prepositions are few, very
frequent and mostly particular to a language, so counting them is a check on short texts that costs nothing. A
word several languages share ("de", "a", "in") counts for each of them by an equal share.
"""

from __future__ import annotations

import re
from functools import cache

_WORDS: dict[str, str] = {
    "en": "the a an you your i my me we our us it its this that these those is are was were be been am do does "
    "did don't doesn't didn't can can't could would should will won't have has had what when where which who "
    "whom whose how why there here to of and or for with from at on in by about any some not no yes i'm it's "
    "you're we're they they're them their he she his her if than then get want need please just also",
    "fr": "le la les un une des du de je j'ai tu vous nous il ils elle elles est sont suis êtes es et ou pas ne "
    "n'est que qu'il qui quoi pour avec dans sur mon ma mes ton ta tes votre vos notre nos ce cet cette ces "
    "c'est au aux avez avons ai peux peut pouvez comment quand où pourquoi combien oui non y en moi toi leur "
    "très aussi mais s'il merci bonjour",
    "es": "el la los las un una unos unas de del que qué y o en es son está están estoy soy por para con mi mis "
    "tu tus su sus yo usted ustedes tienen tiene tengo hay cómo cuándo dónde cuánto cuánta cuál por qué puedo "
    "puede pueden quiero no sí muy pero lo al se me te nos les gracias hola también",
    "pt": "o a os as um uma uns umas de do da dos das que e em no na nos nas é são está estão estou sou por para "
    "com meu minha meus minhas você vocês tem têm tenho há não sim como quando onde quanto quanta qual posso "
    "pode podem quero eu ao à se me te muito mas obrigado obrigada olá também",
    "it": "il lo la i gli le un uno una di del della dei delle che e è sono sei siete in per con mio mia miei "
    "tuo tua voi avete ha hanno ho c'è non sì come quando dove quanto quanta quale posso può possono voglio "
    "io ci anche ma molto grazie ciao al alla nel nella",
    "de": "der die das den dem des ein eine einen einem einer ist sind bin bist seid und oder nicht kein keine "
    "ich du sie wir ihr es er mit für auf von zu zum zur im am wie was wo wann warum wieviel habt haben hat "
    "habe kann kannst können gibt mein meine dein deine euer bitte auch noch ja nein aber sehr danke hallo",
    "nl": "de het een is zijn ben bent en of niet geen ik je jij u we wij jullie met voor op van te in wat waar "
    "wanneer hoe waarom hoeveel hebben heeft hebt heb kan kun kunnen mijn jouw uw er ook nog dit dat deze die "
    "maar heel bedankt dank hoi hallo",
    "tr": "bir ve bu şu o ne mi mı mu mü var yok için ile ben sen siz biz onlar nasıl nerede neden niçin kaç "
    "hangi ama de da çok evet hayır değil misiniz musunuz mısınız teşekkürler merhaba lütfen",
    "pl": "i w z na do nie to jest są czy się że co jak gdzie kiedy ile dlaczego mam macie ma mój moja moje "
    "pan pani państwo dla od po ale tak jestem jesteś proszę dziękuję dzień dobry cześć bardzo już",
}
_TOKEN = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


@cache
def _weights() -> dict[str, dict[str, float]]:
    """Each function word -> {language: its share}; a word k languages use counts 1/k for each."""
    owners: dict[str, set[str]] = {}
    for language, spaced in _WORDS.items():
        for word in spaced.split():
            owners.setdefault(word, set()).add(language)
    return {word: {language: 1 / len(languages) for language in languages} for word, languages in owners.items()}


def function_word_languages() -> frozenset[str]:
    """The languages with a function-word list."""
    return frozenset(_WORDS)


def tokens(text: str) -> list[str]:
    """The lowercased words of `text` (letters and inner apostrophes; digits and punctuation dropped)."""
    return _TOKEN.findall(text.lower().replace("’", "'"))


def function_word_evidence(words: list[str], languages: frozenset[str] | None = None) -> dict[str, float]:
    """Per language, the summed shares of the function words among `words` (only languages with a hit)."""
    weights = _weights()
    evidence: dict[str, float] = {}
    for word in words:
        for language, share in weights.get(word, {}).items():
            if languages is None or language in languages:
                evidence[language] = evidence.get(language, 0.0) + share
    return evidence
