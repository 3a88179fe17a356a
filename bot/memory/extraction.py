"""Finding the facts a person states about themselves, with patterns in fifteen languages, each value checked.

Why patterns and not the model: the bundled 135M model invents and misreads; a fact kept wrongly is worse
than one not kept. Every pattern names the kind of fact and the language it is written in; every value is
checked (a name is a few capitalised words, an order number has a digit, a date names a day or a time) and
clauses that are questions ("is my name Anna?") or negations ("my name is not Anna") are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# Kinds of fact. Single-valued kinds replace an older value; the others accumulate.
NAME = "name"
ADDRESS_AS = "address_as"
LANGUAGE = "language"
PREFERENCE = "preference"
ORDER_NUMBER = "order_number"
ALLERGY = "allergy"
APPOINTMENT = "appointment"
BIRTHDAY = "birthday"
EMAIL = "email"
PHONE = "phone"
POSTAL_ADDRESS = "postal_address"
KINDS = (
    NAME,
    ADDRESS_AS,
    LANGUAGE,
    PREFERENCE,
    ORDER_NUMBER,
    ALLERGY,
    APPOINTMENT,
    BIRTHDAY,
    EMAIL,
    PHONE,
    POSTAL_ADDRESS,
)
SINGLE_VALUED = frozenset(
    {NAME, ADDRESS_AS, LANGUAGE, ORDER_NUMBER, APPOINTMENT, BIRTHDAY, EMAIL, PHONE, POSTAL_ADDRESS}
)

MAX_SCANNED_CHARS = 2000
MAX_VALUE_CHARS = 80


@dataclass(frozen=True)
class Fact:
    """One thing a person said about themselves: its kind, the checked value, and the language it was in."""

    kind: str
    value: str
    language: str


# The value group is always named `v`. Patterns are matched case-insensitively inside one clause.
_NAME_WORDS = r"(?P<v>[^\W\d_][\w'’.-]*(?:\s+[^\W\d_][\w'’-]*){0,2})"
# What may open or close a bare self-introduction ("Oh, I'm Marcus, by the way."): greetings, and asides that
# say nothing more about the person.
_LEAD = (
    r"^(?:(?:hi|hello|hey|oh|ah|btw|by the way|hola|buenas|salut|bonjour|hallo|oi|olá|ola|ciao|salve|buongiorno)"
    r"[,!\s]+)*"
)
_ASIDE = (
    r"(?:[,\s]+(?:by the way|btw|here|for the record|nice to meet you|pleased to meet you|por cierto|"
    r"encantad[oa]|au fait|enchanté|enchantée|übrigens|freut mich|aliás|a propósito|por sinal|prazer))?\s*$"
)
_CJK_NAME = r"(?P<v>[\u4e00-\u9fff]{1,4}|[A-Za-z][A-Za-z'-]*(?:\s[A-Za-z][A-Za-z'-]*)?)"
_ORDER_VALUE = r"[#№]?\s*(?P<v>[A-Za-z0-9][A-Za-z0-9-]{2,23})"
_REST = r"(?P<v>[^,;]+)"
_EMAIL_VALUE = r"(?P<v>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)"
_PHONE_VALUE = r"(?P<v>\+?\(?\d[\d ()/.-]{5,22}\d)"
# A clause that gives someone else's details ("your email", "my wife's number") states nothing about the writer.
_NOT_OWN = (
    r"^(?!.*\b(?:your|his|her|their|our|tu|su|sus|ton|ta|votre|vos|sein\w*|ihr\w*|dein\w*|seu|sua|tuo|tua|suo)\b)"
    r"(?!.*\b(?!(?:it|that|he|she|what|there|here|who|let)['’]s\b)\w+['’]s\b)(?!.*\b(?:wife|husband|partner|friend|mum|mom|mother|dad|father|boss|colleague|coworker|"
    r"brother|sister|son|daughter|girlfriend|boyfriend)\b)"
)

_PATTERNS: list[tuple[str, str, str]] = [
    # names
    (NAME, "en", rf"\bmy name(?:'s| is)\s+{_NAME_WORDS}"),
    (NAME, "en", rf"{_LEAD}(?:i'm|i am)\s+{_NAME_WORDS}{_ASIDE}"),  # strict: capitalised only
    (NAME, "en", rf"^(?:hi|hello|hey)[,!\s]+(?:this is|it's)\s+{_NAME_WORDS}{_ASIDE}"),  # strict
    (NAME, "en", rf"\b(?:the )?name's\s+{_NAME_WORDS}"),
    (NAME, "es", rf"\b(?:me llamo|mi nombre es)\s+{_NAME_WORDS}"),
    (NAME, "es", rf"{_LEAD}soy\s+{_NAME_WORDS}{_ASIDE}"),  # strict
    (NAME, "fr", rf"{_LEAD}moi,?\s+c'est\s+{_NAME_WORDS}{_ASIDE}"),  # strict
    (NAME, "de", rf"{_LEAD}ich bin\s+(?:der |die )?{_NAME_WORDS}{_ASIDE}"),  # strict
    (NAME, "pt", rf"{_LEAD}(?:eu )?sou\s+(?:o |a )?{_NAME_WORDS}{_ASIDE}"),  # strict
    (NAME, "fr", rf"\b(?:je m'appelle|je m’appelle|mon nom est|mon prénom est)\s+{_NAME_WORDS}"),
    (NAME, "de", rf"\b(?:ich heiße|ich heisse|mein name ist)\s+{_NAME_WORDS}"),
    (NAME, "pt", rf"\b(?:meu nome é|me chamo|eu me chamo)\s+{_NAME_WORDS}"),
    (NAME, "it", rf"\b(?:mi chiamo|il mio nome è|il mio nome e')\s+{_NAME_WORDS}"),
    (NAME, "zh", rf"(?:我叫|我名叫|我的名字是|我的名字叫|我是)\s*{_CJK_NAME}"),
    # "Marcus here", "aqui é o Rafael", "the name is Okafor" (a booking's name is the writer's)
    (NAME, "en", rf"{_LEAD}(?P<v>[^\W\d_][\w-]*)\s+here(?=[,!.\s]*$|,)"),  # strict
    (NAME, "en", rf"\b(?:the|under the) name(?: is|:)\s+{_NAME_WORDS}"),
    (NAME, "es", rf"{_LEAD}aqu[íi] (?:es|habla)\s+(?:el |la )?{_NAME_WORDS}"),  # strict
    (NAME, "fr", rf"{_LEAD}ici\s+{_NAME_WORDS}{_ASIDE}"),  # strict
    (NAME, "de", rf"{_LEAD}hier (?:ist|spricht)\s+(?:der |die )?{_NAME_WORDS}"),  # strict
    (NAME, "pt", rf"{_LEAD}aqui (?:é|e|fala)\s+(?:o |a )?{_NAME_WORDS}"),  # strict
    (NAME, "it", rf"{_LEAD}(?:sono|qui (?:è|e'|parla))\s+{_NAME_WORDS}{_ASIDE}"),  # strict
    # how to address me
    (ADDRESS_AS, "en", rf"\b(?:please\s+)?call me\s+{_NAME_WORDS}"),
    (ADDRESS_AS, "en", rf"\baddress me as\s+{_NAME_WORDS}"),
    (ADDRESS_AS, "es", rf"\b(?:llámame|llamame|puedes llamarme)\s+{_NAME_WORDS}"),
    (ADDRESS_AS, "fr", rf"\b(?:appelle-moi|appelez-moi)\s+{_NAME_WORDS}"),
    (ADDRESS_AS, "de", rf"\b(?:nenn mich|nennen sie mich|sag)\s+{_NAME_WORDS}(?=\s+zu mir)"),
    (ADDRESS_AS, "de", rf"\b(?:nenn mich|nennen sie mich)\s+{_NAME_WORDS}"),
    (ADDRESS_AS, "pt", rf"\b(?:me chame de|pode me chamar de|me chama de)\s+{_NAME_WORDS}"),
    (ADDRESS_AS, "zh", rf"(?:叫我|请叫我|称呼我)\s*{_CJK_NAME}"),
    # order numbers: a keyword that says "number" or "my order", never a bare "order 3 pizzas"
    (ORDER_NUMBER, "en", rf"\border\s*(?:number|no\.?|num|id|nr\.?|#)\s*(?:is|was|:)?\s*{_ORDER_VALUE}"),
    (ORDER_NUMBER, "en", rf"\bmy order\s*(?:is|was|:)?\s*{_ORDER_VALUE}"),
    (ORDER_NUMBER, "es", rf"\bn[úu]mero de(?: mi)? pedido\s*(?:es|era|:)?\s*(?:el )?{_ORDER_VALUE}"),
    (ORDER_NUMBER, "es", rf"\bmi pedido\s*(?:es|era|:|n[úu]mero|n[°º])?\s*(?:el )?{_ORDER_VALUE}"),
    (ORDER_NUMBER, "es", rf"\bpedido\s*(?:n[°º]|#)\s*{_ORDER_VALUE}"),
    (ORDER_NUMBER, "fr", rf"\bnum[ée]ro de(?: ma)? commande\s*(?:est|était|:)?\s*(?:le )?{_ORDER_VALUE}"),
    (ORDER_NUMBER, "fr", rf"\bma commande\s*(?:est|était|:)?\s*(?:la )?{_ORDER_VALUE}"),
    (ORDER_NUMBER, "fr", rf"\bcommande\s*(?:n°|#)\s*{_ORDER_VALUE}"),
    (ORDER_NUMBER, "de", rf"\bbestellnummer\s*(?:ist|war|lautet|:)?\s*{_ORDER_VALUE}"),
    (ORDER_NUMBER, "de", rf"\bmeine bestellung\s*(?:ist|war|hat die nummer|:)?\s*{_ORDER_VALUE}"),
    (ORDER_NUMBER, "de", rf"\bbestellung\s*(?:nr\.?|#)\s*{_ORDER_VALUE}"),
    (ORDER_NUMBER, "pt", rf"\bn[úu]mero d[oe](?: meu)? pedido\s*(?:é|era|:)?\s*(?:o )?{_ORDER_VALUE}"),
    (ORDER_NUMBER, "pt", rf"\bmeu pedido\s*(?:é|era|:)?\s*(?:o )?{_ORDER_VALUE}"),
    (ORDER_NUMBER, "pt", rf"\bpedido\s*(?:n[°º]|#)\s*{_ORDER_VALUE}"),
    (ORDER_NUMBER, "it", rf"\bnumero (?:d'ordine|dell'ordine|ordine)\s*(?:è|e'|era|:)?\s*(?:il )?{_ORDER_VALUE}"),
    (ORDER_NUMBER, "it", rf"\b(?:il )?mio ordine\s*(?:è|e'|era|:|ha il numero)?\s*(?:il )?{_ORDER_VALUE}"),
    # "my order has the number ...", in each language
    (ORDER_NUMBER, "en", rf"\bmy order (?:has|carries) (?:the )?(?:number|no\.?|id)\s*{_ORDER_VALUE}"),
    (ORDER_NUMBER, "es", rf"\bmi pedido (?:tiene|lleva) el n[úu]mero\s*{_ORDER_VALUE}"),
    (ORDER_NUMBER, "fr", rf"\bma commande (?:porte|a) (?:le )?num[ée]ro\s*{_ORDER_VALUE}"),
    (ORDER_NUMBER, "pt", rf"\bmeu pedido (?:tem|leva) o n[úu]mero\s*{_ORDER_VALUE}"),
    # booking and confirmation references: a code to quote later, kept like an order number
    (
        ORDER_NUMBER,
        "en",
        rf"\b(?:booking|reservation|confirmation|reference|ticket)\s*(?:reference|number|code|ref|no\.?|#|id)?"
        rf"\s*(?:is|was|:)\s*{_ORDER_VALUE}",
    ),
    (
        ORDER_NUMBER,
        "es",
        rf"\b(?:c[óo]digo|n[úu]mero|localizador) de (?:la )?(?:reserva|confirmaci[óo]n)\s*(?:es|:)?\s*{_ORDER_VALUE}",
    ),
    (
        ORDER_NUMBER,
        "fr",
        rf"\b(?:num[ée]ro|code|r[ée]f[ée]rence) de (?:la )?(?:r[ée]servation|confirmation)"
        rf"\s*(?:est|:)?\s*{_ORDER_VALUE}",
    ),
    (
        ORDER_NUMBER,
        "de",
        rf"\b(?:buchungs|reservierungs|referenz|best[äa]tigungs)(?:nummer|code)\s*(?:ist|lautet|:)?\s*{_ORDER_VALUE}",
    ),
    (ORDER_NUMBER, "pt", rf"\b(?:c[óo]digo|n[úu]mero) da (?:reserva|confirma[çc][ãa]o)\s*(?:é|e|:)?\s*{_ORDER_VALUE}"),
    (ORDER_NUMBER, "it", rf"\b(?:codice|numero) (?:di|della) (?:prenotazione|conferma)\s*(?:è|e'|:)?\s*{_ORDER_VALUE}"),
    (ORDER_NUMBER, "zh", r"订单(?:号|编号)(?:是|为|:|：)?\s*[#]?(?P<v>[A-Za-z0-9][A-Za-z0-9-]{2,23})"),
    (ORDER_NUMBER, "zh", r"我的订单(?:是|为)\s*[#]?(?P<v>[A-Za-z0-9][A-Za-z0-9-]{2,23})"),
    # email addresses: the person's own, said as such ("my email is ...", "reach me at ...")
    (
        EMAIL,
        "en",
        rf"\b(?:my e-?mail(?: address)? is|(?:reach|contact|email|write to) me (?:at|on)|my address is)"
        rf"\s+{_EMAIL_VALUE}",
    ),
    (EMAIL, "es", rf"\bmi (?:correo|e-?mail|email)(?: electr[óo]nico)? es\s+{_EMAIL_VALUE}"),
    (EMAIL, "fr", rf"\bmon (?:adresse )?(?:e-?mail|courriel|mail) (?:est|c'est)\s+{_EMAIL_VALUE}"),
    (EMAIL, "de", rf"\bmeine e-?mail(?:-adresse)? (?:ist|lautet)\s+{_EMAIL_VALUE}"),
    (EMAIL, "pt", rf"\bmeu e-?mail (?:é|e)\s+{_EMAIL_VALUE}"),
    (EMAIL, "it", rf"\bla mia (?:e-?mail|mail)(?: è| e'|:)\s*{_EMAIL_VALUE}"),
    (EMAIL, "zh", rf"我的(?:邮箱|电子邮件|邮件地址)(?:是|:|：)?\s*{_EMAIL_VALUE}"),
    # any other address the writer gives in a statement ("please use a@b.de for the receipt"), unless it is
    # someone else's
    (
        EMAIL,
        "en",
        rf"{_NOT_OWN}(?=.*\b(?:i|i'm|me|my|mine|use|send (?:it|them|the \w+) to|actually|sorry|typo|i mean|"
        rf"correction)\b)"
        rf".*?(?<![\w.+-]){_EMAIL_VALUE}",
    ),
    # phone numbers: the writer's own, said as such
    (
        PHONE,
        "en",
        rf"\b(?:(?:my|the) (?:phone|mobile|cell|whatsapp)?\s*(?:number|phone|mobile)(?: is|:)|"
        rf"(?:reach|call|text|contact|ring) me (?:on|at)|my number(?: is|:))\s*{_PHONE_VALUE}",
    ),
    (
        PHONE,
        "es",
        rf"\b(?:mi (?:tel[ée]fono|n[úu]mero(?: de tel[ée]fono)?|m[óo]vil|celular)(?: es|:)|ll[áa]mame al)"
        rf"\s*{_PHONE_VALUE}",
    ),
    (
        PHONE,
        "fr",
        rf"\b(?:mon (?:num[ée]ro(?: de t[ée]l[ée]phone)?|t[ée]l[ée]phone|portable)(?: est| c'est|:)|appelle-moi au)"
        rf"\s*{_PHONE_VALUE}",
    ),
    (
        PHONE,
        "de",
        rf"\b(?:meine (?:telefonnummer|handynummer|nummer)(?: ist| lautet|:)|ruf mich (?:an )?unter)\s*{_PHONE_VALUE}",
    ),
    (PHONE, "pt", rf"\bmeu (?:telefone|n[úu]mero|celular|whatsapp|zap)(?: é| e|:)\s*{_PHONE_VALUE}"),
    (PHONE, "it", rf"\bil mio (?:numero(?: di telefono)?|telefono|cellulare)(?: è| e'|:)\s*{_PHONE_VALUE}"),
    (PHONE, "zh", rf"我的(?:电话|手机)(?:号码|号)?(?:是|:|：)?\s*{_PHONE_VALUE}"),
    # postal addresses: "deliver it to 12 Elm Street", "my address is ..." (with a house number)
    (
        POSTAL_ADDRESS,
        "en",
        rf"\b(?:deliver (?:it |them |this |the order )?to|send (?:it |them )?to|my (?:home |delivery |postal )?address"
        rf"(?: is|:)|i live (?:at|on))\s+{_REST}",
    ),
    (POSTAL_ADDRESS, "es", rf"\b(?:mi direcci[óo]n es|vivo en|entr[ée]galo en|env[íi]alo a)\s+{_REST}"),
    (POSTAL_ADDRESS, "fr", rf"\b(?:mon adresse (?:est|c'est)|j'habite (?:au|à|a)|livrez(?:-le)? (?:au|à))\s+{_REST}"),
    (
        POSTAL_ADDRESS,
        "de",
        rf"\b(?:meine adresse (?:ist|lautet)|ich wohne in(?: der)?|liefer(?:t|n sie)? (?:es )?an)\s+{_REST}",
    ),
    (POSTAL_ADDRESS, "pt", rf"\b(?:meu endere[çc]o [ée]|moro na|moro no|entregue na|entregue no)\s+{_REST}"),
    (POSTAL_ADDRESS, "it", rf"\b(?:il mio indirizzo [èe]|abito in|consegnate in)\s+{_REST}"),
    # appointments and birthdays
    (APPOINTMENT, "en", rf"\bmy (?:appointment|booking|reservation)\s+(?:is|was)\s+(?:on |at |for )?{_REST}"),
    (APPOINTMENT, "en", rf"\bi have an? (?:appointment|booking|reservation)\s+(?:on |at |for )?{_REST}"),
    (
        APPOINTMENT,
        "en",
        rf"\bi (?:booked|made|have booked) an? (?:appointment|booking|reservation)\s+(?:on |at |for )?{_REST}",
    ),
    # "I booked a table for March 14": a booking of something, with its date
    (
        APPOINTMENT,
        "en",
        rf"\bi(?:'ve| have)? (?:booked|reserved) (?:a |an |the )?(?:table|room|slot|seat|session|class|visit)"
        rf"\s+(?:on |at |for )?{_REST}",
    ),
    (
        APPOINTMENT,
        "es",
        rf"\b(?:he )?reserv[ée] (?:una |la )?(?:mesa|habitaci[óo]n|cita)\s+(?:el |para el |para )?{_REST}",
    ),
    (APPOINTMENT, "fr", rf"\bj'ai réservé (?:une |la )?(?:table|chambre|place)\s+(?:le |pour le |pour )?{_REST}"),
    (
        APPOINTMENT,
        "pt",
        rf"\b(?:eu )?reservei (?:uma |a )?(?:mesa|sala|vaga)\s+(?:na |no |para o |para a |para )?{_REST}",
    ),
    # "I'd like to come on 14 March": a visit the person plans, with its date (checked like every date)
    (APPOINTMENT, "en", rf"\bi(?:'d| would) like to (?:come|come in|visit|book)\s+(?:on |at |for )?{_REST}"),
    (APPOINTMENT, "de", r"\bich habe (?P<v>(?:am|um|morgen|heute|übermorgen)\b[^,;]*?) (?:einen |den )?termin"),
    (APPOINTMENT, "es", rf"\bmi (?:cita|reserva)\s+es\s+(?:el |para el |a las )?{_REST}"),
    (APPOINTMENT, "es", rf"\btengo (?:una )?(?:cita|reserva)\s+(?:el |para el |a las )?{_REST}"),
    (APPOINTMENT, "fr", rf"\bmon (?:rendez-vous|rdv)\s+est\s+(?:le |à |pour )?{_REST}"),
    (APPOINTMENT, "fr", rf"\bj'ai (?:un )?(?:rendez-vous|rdv)\s+(?:le |à |pour )?{_REST}"),
    (APPOINTMENT, "de", rf"\bmein termin ist\s+(?:am |um )?{_REST}"),
    (APPOINTMENT, "de", rf"\bich habe (?:einen )?termin\s+(?:am |um )?{_REST}"),
    (APPOINTMENT, "pt", rf"\bminha (?:consulta|reserva|marcação)\s+é\s+(?:na |no |às |para )?{_REST}"),
    (APPOINTMENT, "pt", rf"\btenho (?:uma )?(?:consulta|reserva|marcação)\s+(?:na |no |às |para )?{_REST}"),
    (APPOINTMENT, "zh", r"我的预约(?:是|在)\s*(?P<v>[^，,。；;]+)"),
    (APPOINTMENT, "zh", r"我(?:预约了|约了)\s*(?P<v>[^，,。；;]+)"),
    (BIRTHDAY, "en", rf"\bmy birthday\s+is\s+(?:on )?{_REST}"),
    (BIRTHDAY, "es", rf"\bmi cumpleaños es\s+(?:el )?{_REST}"),
    (BIRTHDAY, "fr", rf"\bmon anniversaire est\s+(?:le )?{_REST}"),
    (BIRTHDAY, "de", rf"\bmein geburtstag ist\s+(?:am )?{_REST}"),
    (BIRTHDAY, "pt", rf"\bmeu aniversário é\s+(?:em |no |dia )?{_REST}"),
    (BIRTHDAY, "zh", r"我的生日是\s*(?P<v>[^，,。；;]+)"),
    # allergies
    (ALLERGY, "en", rf"\bi(?:'m| am) allergic to\s+{_REST}"),
    (ALLERGY, "en", r"\bi have an? (?P<v>[\w -]{2,30}?) allergy"),
    (ALLERGY, "es", rf"\bsoy al[ée]rgic[oa] a(?:l)?\s+{_REST}"),
    (ALLERGY, "fr", rf"\bje suis allergique (?:à|au|aux)\s+{_REST}"),
    (ALLERGY, "de", rf"\bich bin allergisch gegen\s+{_REST}"),
    (ALLERGY, "pt", rf"\bsou al[ée]rgic[oa] a\s+{_REST}"),
    (ALLERGY, "zh", r"我对\s*(?P<v>[^，,。；;]+?)\s*过敏"),
    # languages (before preferences: "I prefer Spanish" is a language)
    (LANGUAGE, "en", r"\b(?:i speak|please (?:answer|reply|write) (?:me )?in|i prefer)\s+(?P<v>[A-Za-z]+)\s*$"),
    (LANGUAGE, "es", r"\b(?:hablo|prefiero|respóndeme en|contéstame en)\s+(?P<v>[\wñ]+)\s*$"),
    (LANGUAGE, "fr", r"\b(?:je parle|je préfère|réponds-moi en|répondez en)\s+(?P<v>[\wç]+)\s*$"),
    (LANGUAGE, "de", r"\b(?:ich spreche|ich bevorzuge|antworte bitte auf|bitte auf)\s+(?P<v>[\wä]+)\s*$"),
    (LANGUAGE, "pt", r"\b(?:falo|prefiro|responda em)\s+(?P<v>[\wê]+)\s*$"),
    (LANGUAGE, "zh", r"(?:我说|我讲|请用)\s*(?P<v>中文|英文|英语|西班牙语|法语|德语|葡萄牙语)"),
    # preferences
    (PREFERENCE, "en", rf"\bi(?:'d| would)? prefer\s+{_REST}"),
    (PREFERENCE, "en", rf"\bi'd rather\s+{_REST}"),
    (PREFERENCE, "en", r"\bmy (?:favou?rite|preferred) (?P<v>[a-z]+ is [^,;]+)"),
    (PREFERENCE, "es", rf"\bprefiero\s+{_REST}"),
    (PREFERENCE, "fr", rf"\bje préfère\s+{_REST}"),
    (PREFERENCE, "de", rf"\bich (?:bevorzuge|mag lieber)\s+{_REST}"),
    (PREFERENCE, "de", r"\bmir ist (?P<v>[^,;]+?) lieber"),
    (PREFERENCE, "pt", rf"\b(?:eu )?prefiro\s+{_REST}"),
    (PREFERENCE, "zh", r"我(?:更喜欢|比较喜欢|喜欢|偏好)\s*(?P<v>[^，,。；;]+)"),
]
# Looser English forms: "order 88231 hasn't arrived" (a bare "order" needs a four-digit run, so "order 100
# pizzas" keeps nothing) and "it's for the 14th of May" (a day-of-month or a named day, never "for 2 people").
_STRONG_DATE = (
    r"(?=[^,;]*(?:\d{1,2}(?:st|nd|rd|th)\b|\d{1,2}[./]\d{1,2}|\b(?:january|february|march|april|may|june|july|"
    r"august|september|october|november|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"tomorrow|tonight)\b))"
)
_PATTERNS += [
    (ORDER_NUMBER, "en", r"\border\s+#?\s*(?P<v>(?=[A-Za-z0-9-]*\d{4})[A-Za-z0-9][A-Za-z0-9-]{3,23})\b"),
    (
        APPOINTMENT,
        "en",
        rf"^(?:it'?s|it is|that'?s|the (?:booking|reservation|appointment) is) for\s+{_STRONG_DATE}(?:the )?{_REST}",
    ),
]

# nl, ru, ja, ko, ar, hi, tr, pl: the same kinds of fact, in each language's own word order. Scripts without
# letter case or word boundaries (ja, ko, ar, hi) anchor on their particles instead of \b.
_JA_NAME = r"(?P<v>[\u4e00-\u9fff\u30a0-\u30ffA-Za-z]{1,8}?)"
_KO_NAME = r"(?P<v>[\uac00-\ud7a3]{1,5}?|[A-Za-z][A-Za-z'-]*)"
_AR_NAME = r"(?P<v>[\u0621-\u064a]{2,}|[A-Za-z][A-Za-z'-]*)"
_HI_NAME = r"(?P<v>[\u0900-\u097fA-Za-z]+(?:\s[\u0900-\u097fA-Za-z]+)??)"
_PARTICLE_REST = r"(?P<v>[^,，、。.;؛،।]+?)"
_PATTERNS += [
    (NAME, "nl", rf"\b(?:ik heet|mijn naam is)\s+{_NAME_WORDS}"),
    (NAME, "ru", rf"(?:меня зовут|мо[её] имя)\s+{_NAME_WORDS}"),
    (NAME, "ja", rf"(?:私|わたし|僕|ぼく)の名前は\s*{_JA_NAME}(?:です|だ|と申します|といいます|$)"),
    (NAME, "ja", rf"{_JA_NAME}(?:と申します|といいます)"),
    (NAME, "ko", rf"(?:제|내|저의) 이름은\s*{_KO_NAME}\s*(?:입니다|이에요|예요|이야|야|이고|$)"),
    (NAME, "ko", rf"(?:저는|나는)\s*{_KO_NAME}(?:이라고|라고) (?:합니다|해요|해)"),
    (NAME, "ar", rf"(?:اسمي|إسمي)\s+(?:هو\s+)?{_AR_NAME}"),
    (NAME, "hi", rf"(?:मेरा|मेरे) नाम\s+{_HI_NAME}\s+(?:है|हैं)"),
    (NAME, "tr", rf"\b(?:benim )?(?:ad[ıi]m|ismim)\s+{_NAME_WORDS}"),
    (NAME, "pl", rf"\b(?:nazywam się|mam na imię|moje imię to)\s+{_NAME_WORDS}"),
    (
        ORDER_NUMBER,
        "nl",
        rf"\b(?:bestelnummer|ordernummer|bestelling(?:snummer)?|boekingsnummer|reserveringsnummer)\s*(?:is|was|:)?\s*{_ORDER_VALUE}",
    ),
    (
        ORDER_NUMBER,
        "ru",
        rf"(?:номер (?:моего )?(?:заказа|бронирования|брони)|мой заказ|заказ)\s*(?:№|#|номер|[—:-]|это)?\s*{_ORDER_VALUE}",  # noqa: E501
    ),
    (ORDER_NUMBER, "ja", r"(?:注文|予約|オーダー)番号(?:は|：|:)?\s*[#]?(?P<v>[A-Za-z0-9][A-Za-z0-9-]{2,23})"),
    (ORDER_NUMBER, "ko", r"(?:주문|예약)\s*번호(?:는|은|:)?\s*[#]?(?P<v>[A-Za-z0-9][A-Za-z0-9-]{2,23})"),
    (ORDER_NUMBER, "ar", rf"رقم (?:طلبي|الطلب|طلبيتي|حجزي|الحجز)\s*(?:هو|:)?\s*{_ORDER_VALUE}"),
    (ORDER_NUMBER, "hi", rf"(?:ऑर्डर|आर्डर|बुकिंग) (?:नंबर|नम्बर|संख्या|आईडी)\s*(?:है|:)?\s*{_ORDER_VALUE}"),
    (ORDER_NUMBER, "tr", rf"\b(?:sipariş|rezervasyon) (?:numaram|numarası|no)\s*(?::|ise)?\s*{_ORDER_VALUE}"),
    (
        ORDER_NUMBER,
        "pl",
        rf"\b(?:numer (?:mojego )?(?:zamówienia|rezerwacji)|zamówienie (?:nr\.?|numer))\s*(?:to|:|jest)?\s*{_ORDER_VALUE}",  # noqa: E501
    ),
    (EMAIL, "nl", rf"\bmijn e-?mail(?:adres)?(?: is|:)\s*{_EMAIL_VALUE}"),
    (
        EMAIL,
        "ru",
        rf"(?:мой (?:e-?mail|email|имейл|емейл|адрес)|моя почта|моя электронная почта)\s*(?:[—:-]|это)?\s*{_EMAIL_VALUE}",  # noqa: E501
    ),
    (EMAIL, "ja", rf"メール(?:アドレス)?(?:は|：|:)\s*{_EMAIL_VALUE}"),
    (EMAIL, "ko", rf"이메일(?:\s*주소)?(?:는|은|:)?\s*{_EMAIL_VALUE}"),
    (EMAIL, "ar", rf"(?:بريدي(?: الإلكتروني)?|إيميلي|ايميلي)\s*(?:هو|:)?\s*{_EMAIL_VALUE}"),
    (EMAIL, "hi", rf"मेरा (?:ईमेल|ई-मेल)(?: आईडी| पता)?\s*(?:है|:)?\s*{_EMAIL_VALUE}"),
    (EMAIL, "tr", rf"\b(?:e-?posta(?: adresim)?|e-?posta adresim|mail adresim|e-?mailim)\s*:?\s*{_EMAIL_VALUE}"),
    (EMAIL, "pl", rf"\bmój (?:adres )?e-?mail(?: to|:)?\s*{_EMAIL_VALUE}"),
    (PHONE, "nl", rf"\bmijn (?:telefoonnummer|nummer|mobiele nummer|gsm-nummer)(?: is|:)\s*{_PHONE_VALUE}"),
    (PHONE, "ru", rf"мой (?:номер телефона|телефон|номер)\s*(?:[—:-]|это)?\s*{_PHONE_VALUE}"),
    (PHONE, "ja", rf"電話番号(?:は|：|:)\s*{_PHONE_VALUE}"),
    (PHONE, "ko", rf"(?:전화번호|휴대폰 번호|핸드폰 번호|연락처)(?:는|은|:)?\s*{_PHONE_VALUE}"),
    (PHONE, "ar", rf"(?:رقم (?:هاتفي|جوالي|موبايلي|تلفوني)|رقمي)\s*(?:هو|:)?\s*{_PHONE_VALUE}"),
    (PHONE, "hi", rf"मेरा (?:फ़ोन|फोन|मोबाइल) (?:नंबर|नम्बर)\s*(?:है|:)?\s*{_PHONE_VALUE}"),
    (PHONE, "tr", rf"\b(?:telefon numaram|numaram|cep numaram)\s*:?\s*{_PHONE_VALUE}"),
    (PHONE, "pl", rf"\bmój (?:numer(?: telefonu)?|telefon)(?: to|:)?\s*{_PHONE_VALUE}"),
    (
        APPOINTMENT,
        "nl",
        rf"\b(?:mijn (?:afspraak|reservering|boeking) is|ik heb (?:een )?(?:afspraak|reservering))\s+(?:op |om |voor )?{_REST}",  # noqa: E501
    ),
    (APPOINTMENT, "ru", rf"(?:я записан[аоы]? на|моя запись на|у меня (?:запись|бронь|бронирование) на)\s+{_REST}"),
    (APPOINTMENT, "ja", rf"予約(?:は|日は)\s*{_PARTICLE_REST}(?:です|だ)?$"),
    (APPOINTMENT, "ko", rf"예약(?:은|는|일은)\s*{_PARTICLE_REST}(?:입니다|이에요|예요)?$"),
    (APPOINTMENT, "ar", rf"(?:موعدي|حجزي)\s*(?:هو\s*)?(?:يوم|في|بتاريخ)?\s*{_PARTICLE_REST}$"),
    (APPOINTMENT, "hi", rf"मेरी (?:अपॉइंटमेंट|बुकिंग|रिज़र्वेशन|रिजर्वेशन)\s+{_PARTICLE_REST}\s+(?:को|की) है"),
    (APPOINTMENT, "tr", rf"\b(?:randevum|rezervasyonum)\s+{_REST}"),
    (APPOINTMENT, "pl", rf"\b(?:moja (?:wizyta|rezerwacja) jest|mam (?:wizytę|rezerwację))\s+(?:na |w )?{_REST}"),
    (ALLERGY, "nl", rf"\bik ben allergisch voor\s+{_REST}"),
    (ALLERGY, "ru", rf"у меня аллергия на\s+{_REST}"),
    (ALLERGY, "ja", r"(?P<v>[^、,。はが\s]+?)(?:の)?アレルギー(?:があります|です|がある|持ち)"),
    (ALLERGY, "ko", r"(?P<v>[\uac00-\ud7a3A-Za-z]+?)\s*(?:에\s*)?알레르기가 (?:있어요|있습니다|있어)"),
    (ALLERGY, "ar", rf"(?:لدي|عندي) حساسية (?:من|ضد)\s+{_PARTICLE_REST}$"),
    (ALLERGY, "hi", rf"मुझे\s+{_PARTICLE_REST}\s+से एलर्जी है"),
    (ALLERGY, "tr", r"\b(?P<v>[^,;]+?)\s+alerjim var"),
    (ALLERGY, "pl", rf"\b(?:jestem uczulon[ya] na|mam alergię na)\s+{_REST}"),
]
_COMPILED = [(kind, language, re.compile(pattern, re.IGNORECASE)) for kind, language, pattern in _PATTERNS]

# Words after "I'm" / "my name is" that are not a name.
_NOT_WORDS = """a an the not no just so very really also here there back new sorry fine good ok okay tired busy
    happy sad
    looking trying going wondering interested ready done sure glad confused lost still from in at on with
    and but or if calling writing asking having using waiting new hungry bored late early well alright
    no nicht kein pas ne nada não nao yo je ich eu by my your me you him her it what when where who how why
    something someone anything
    anyone else saved nobody everyone everybody same all"""
_NOT_NAMES = frozenset(_NOT_WORDS.split())
_LANGUAGE_NAMES = {
    "english": "English",
    "inglés": "English",
    "ingles": "English",
    "anglais": "English",
    "englisch": "English",
    "inglês": "English",
    "英文": "English",
    "英语": "English",
    "spanish": "Spanish",
    "español": "Spanish",
    "espanol": "Spanish",
    "castellano": "Spanish",
    "espagnol": "Spanish",
    "spanisch": "Spanish",
    "espanhol": "Spanish",
    "西班牙语": "Spanish",
    "french": "French",
    "francés": "French",
    "frances": "French",
    "français": "French",
    "francais": "French",
    "französisch": "French",
    "francês": "French",
    "法语": "French",
    "german": "German",
    "alemán": "German",
    "aleman": "German",
    "allemand": "German",
    "deutsch": "German",
    "alemão": "German",
    "德语": "German",
    "portuguese": "Portuguese",
    "portugués": "Portuguese",
    "portugais": "Portuguese",
    "portugiesisch": "Portuguese",
    "português": "Portuguese",
    "portugues": "Portuguese",
    "葡萄牙语": "Portuguese",
    "chinese": "Chinese",
    "chino": "Chinese",
    "chinois": "Chinese",
    "chinesisch": "Chinese",
    "chinês": "Chinese",
    "中文": "Chinese",
    "italian": "Italian",
    "italiano": "Italian",
    "italien": "Italian",
    "italienisch": "Italian",
    "japanese": "Japanese",
    "japonés": "Japanese",
    "japonais": "Japanese",
    "japanisch": "Japanese",
}
_DATE_HINT = re.compile(
    r"\d|today|tomorrow|tonight|next|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"january|february|march|april|may|june|july|august|september|october|november|december|noon|morning|"
    r"afternoon|evening|hoy|mañana|manana|lunes|martes|miércoles|miercoles|jueves|viernes|sábado|sabado|domingo|"
    r"enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre|"
    r"aujourd|demain|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|janvier|février|mars|avril|mai|juin|"
    r"juillet|août|septembre|octobre|novembre|décembre|heute|morgen|montag|dienstag|mittwoch|donnerstag|"
    r"freitag|samstag|sonntag|januar|februar|märz|juni|juli|oktober|dezember|uhr|hoje|amanhã|amanha|"
    r"segunda|terça|terca|quarta|quinta|sexta|janeiro|fevereiro|março|maio|junho|julho|setembro|outubro|"
    r"novembro|dezembro|今天|明天|后天|周|星期|月|日|号|点|上午|下午|晚上|завтра|сегодня|明日|今日|내일|오늘|월|غدا|اليوم|कल|आज|"
    r"yarın|bugün|jutro|dzisiaj|morgen|vandaag",
    re.IGNORECASE,
)
_NEGATION = re.compile(
    r"\b(?:not|never|no longer|isn't|don't|no es|no me|ne |pas |nicht|kein|não|nao)\b|不是|不是", re.I
)
_QUESTION_START = re.compile(
    r"^\s*(?:what|what's|whats|when|where|which|who|how|is|are|do|does|did|can|could|would|will|should|"
    r"qu[ée]|cu[áa]l|cu[áa]ndo|c[óo]mo|d[óo]nde|quel|quelle|quand|comment|est-ce|was|wann|wie|welche|wo|ist|"
    r"qual|quando|como|onde|o que)\b",
    re.IGNORECASE,
)
_CLAUSE_SPLIT = re.compile(
    r"(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bSr\.)(?<!Mrs\.)(?<!Sra\.)(?<!\bNr\.)(?<!\bNo\.)"
    r"(?<=[.!?])(?:\s+|$)|(?<=[。！？;；\n])\s*"  # an ASCII stop ends a clause before a space ("a.b@c.com" stays)
    r"|,\s+(?=(?:and |but |y |et |und |e )?(?:i|my|mi|mon|ma|mein|meine|meu|minha|je|ich|eu|yo|the name)\b)",
    re.I,
)
_TRAILING = re.compile(r"[\s.!?。！？…]+$")
_FILLER_TAIL = re.compile(
    r"\s+(?:please|thanks|thank you|por favor|gracias|s'il vous plaît|merci|bitte|danke|obrigad[oa])$", re.I
)


# A "fact" that reads like an order to the model, or carries a link or mention, is never kept: facts go into
# the system prompt, and must not be a way to smuggle instructions or links into it.
_INSTRUCTION_LIKE = re.compile(
    r"\b(?:ignore|disregard|forget|instructions?|system prompt|prompt|you must|you are now|pretend|reveal|"
    r"password|token|jailbreak|developer mode|always answer|from now on|ignora|ignorez|ignoriere)\b|https?://|www\.|@\w|<|>",
    re.IGNORECASE,
)


def looks_like_instruction(text: str) -> bool:
    """True for text that reads like an order to the model or carries a link/mention (kept out of prompts)."""
    return bool(_INSTRUCTION_LIKE.search(text))


def _clauses(text: str) -> list[str]:
    return [clause.strip() for clause in _CLAUSE_SPLIT.split(text[:MAX_SCANNED_CHARS]) if clause and clause.strip()]


_CJK_QUESTION = re.compile(r"什么|吗|多少|哪|几|怎么|谁")


_ASKING_START = re.compile(
    r"^\s*(?:please\s+)?(?:do you (?:think|know|remember)|are you|is it|can you|could you|would you|will you|"
    r"do i|did i|am i|can i|could i|should i|confirm|tell me if)\b",
    re.IGNORECASE,
)


# Question words of the languages whose questions open with no fixed word ("मुझे किस चीज़ से एलर्जी है?").
_OTHER_QUESTION = re.compile(
    r"\b(?:wat|wanneer|hoe|welk\w*|что|как\w*|когда|какой|ne|neydi|hangi\w*|co|jak\w*|kiedy)\b|"
    r"किस|क्या|कब|कौन|ما|ماذا|متى|何|いつ|뭐|무엇|언제|어떤",
    re.IGNORECASE,
)


def _is_question(clause: str) -> bool:
    if _ASKING_START.match(clause):
        return True
    if clause.rstrip().endswith(("?", "？", "؟")) and _OTHER_QUESTION.search(clause):
        return True
    if not clause.rstrip().endswith(("?", "？")):
        return bool(_CJK_QUESTION.search(clause)) and bool(re.search(r"[\u4e00-\u9fff]", clause))
    return bool(_QUESTION_START.match(clause) or _CJK_QUESTION.search(clause))


def _tidy(value: str) -> str:
    value = _TRAILING.sub("", value.strip())
    value = _FILLER_TAIL.sub("", value)
    return " ".join(value.split())[:MAX_VALUE_CHARS]


_LOOSE_INTRO = re.compile(
    rf"{_LEAD}(?:(?:i'm|i am|this is|it's|soy|moi,? c'est|ich bin|(?:eu )?sou|sono|aqu[íi] (?:es|habla)|ici|"
    rf"hier (?:ist|spricht)|aqui (?:é|e|fala)|qui (?:è|e'|parla))\s|[^\W\d_][\w'’.-]*\s+here\b)",
    re.IGNORECASE,
)
_RESCHEDULED = re.compile(r"^(?:moved|changed|rescheduled|postponed)\s+(?:to|for)\s+", re.IGNORECASE)


def _check_name(value: str, clause: str) -> str | None:
    """A name is a few words; lower case is accepted after "my name is", not after a loose "I'm"."""
    words = value.split()
    strict = bool(_LOOSE_INTRO.match(clause))
    # "my name is Anna and I need help": stop at the first lower-case word after the name.
    kept: list[str] = []
    if strict and words[:1] and words[0].lower() in ("der", "die", "o", "a"):
        words = words[1:]
    for word in words:
        if kept and (word.lower() in _NOT_NAMES or (word[:1].islower() and kept[0][:1].isupper())):
            break
        kept.append(word)
    if not kept:
        return None
    if re.fullmatch(r"[\u4e00-\u9fff]{1,4}", kept[0]):
        return kept[0]
    if kept[0].lower() in _NOT_NAMES or (strict and not kept[0][:1].isupper()):
        return None
    return " ".join(word.strip("'’.-")[:1].upper() + word.strip("'’-")[1:] for word in kept)


def _check_order(value: str, clause: str) -> str | None:
    if not any(char.isdigit() for char in value):
        return None
    return value.upper() if value.isascii() else value


def _check_date(value: str, clause: str) -> str | None:
    value = _RESCHEDULED.sub("", _tidy(value))
    return value if _DATE_HINT.search(value) and len(value) <= 60 else None


def _check_language(value: str, clause: str) -> str | None:
    return _LANGUAGE_NAMES.get(value.strip().lower())


def _check_text(value: str, clause: str) -> str | None:
    value = _tidy(value)
    if not value or len(value) < 2 or value.lower() in _NOT_NAMES:
        return None
    return value


def _check_phone(value: str, clause: str) -> str | None:
    value = value.strip(" .-/")
    digits = sum(char.isdigit() for char in value)
    return value if 7 <= digits <= 15 else None


def _check_postal_address(value: str, clause: str) -> str | None:
    """A street address has a house number and a word; an email address or a bare city is not one."""
    value = _tidy(value)
    if "@" in value or not any(char.isdigit() for char in value) or not re.search(r"[^\W\d_]{3}", value):
        return None
    return value


def _check_email(value: str, clause: str) -> str | None:
    value = value.rstrip(".")
    return value if re.fullmatch(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", value) else None


_CHECKS: dict[str, Callable[[str, str], str | None]] = {
    EMAIL: _check_email,
    PHONE: _check_phone,
    POSTAL_ADDRESS: _check_postal_address,
    NAME: _check_name,
    ADDRESS_AS: _check_name,
    ORDER_NUMBER: _check_order,
    APPOINTMENT: _check_date,
    BIRTHDAY: _check_date,
    LANGUAGE: _check_language,
    ALLERGY: _check_text,
    PREFERENCE: _check_text,
}


def extract_facts(text: str) -> list[Fact]:
    """The facts `text` states about its writer, at most one per kind per clause, in the order written."""
    facts: list[Fact] = []
    for _, found in extract_by_clause(text):
        facts.extend(fact for fact in found if fact not in facts)
    return facts


def extract_by_clause(text: str) -> list[tuple[str, list[Fact]]]:
    """Each clause of `text` with the facts it states (an empty list for clauses stating none)."""
    result: list[tuple[str, list[Fact]]] = []
    for clause in _clauses(text):
        if _is_question(clause):
            result.append((clause, []))
            continue
        bare = _TRAILING.sub("", clause)
        taken: set[str] = set()
        found: list[Fact] = []
        for kind, language, pattern in _COMPILED:
            if kind in taken or (kind == PREFERENCE and LANGUAGE in taken):
                continue
            match = pattern.search(bare)
            if match is None:
                continue
            before = bare[: match.start()]
            if _NEGATION.search(match.group(0)) or _NEGATION.search(before[-12:]):
                continue
            value = _CHECKS[kind](match.group("v"), bare)
            # A checked email address holds no spaces, links or markup: its "@" is not a mention.
            if value is None or (kind != EMAIL and _INSTRUCTION_LIKE.search(value)):
                continue
            taken.add(kind)
            found.append(Fact(kind, value, language))
        result.append((clause, found))
    return result
