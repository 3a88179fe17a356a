"""Recognising memory follow-ups ("What's my name?", "¿Cuál es mi número de pedido?") and which fact they ask.

A follow-up is answered from stored facts only, never by the model: the answer is either the fact the person
stated (with when they said it) or a plain "you haven't told me" in their language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.memory.extraction import (
    ADDRESS_AS,
    ALLERGY,
    APPOINTMENT,
    BIRTHDAY,
    EMAIL,
    LANGUAGE,
    NAME,
    ORDER_NUMBER,
    PHONE,
    POSTAL_ADDRESS,
    PREFERENCE,
    extract_facts,
)

EVERYTHING = "everything"
# "What did I just tell you?": answered with the person's previous message in this conversation, not a fact.
LAST_SAID = "last_said"
MAX_QUESTION_CHARS = 200


@dataclass(frozen=True)
class MemoryQuestion:
    """A question about what the person told the bot: the kind of fact asked for, and the question's language."""

    kind: str
    language: str


_QUESTIONS: list[tuple[str, str, str]] = [
    # the previous message
    (
        LAST_SAID,
        "en",
        r"\bwhat (?:did|have) i (?:just |last |already )?(?:say|said|tell you|told you|write|written|mention)\b"
        r"(?!\s+(?:i|i'm|i'd|my|was|is|for|about|to)\b)|"
        r"\bwhat was (?:my last message|it i (?:just )?said)\b",
    ),
    (LAST_SAID, "es", r"\bqu[ée] (?:te )?(?:acabo de decir|dije|te dije|escrib[íi])\b(?!\s+(?:que|sobre)\b)"),
    (
        LAST_SAID,
        "fr",
        r"\bqu'est-ce que je (?:viens de (?:te |vous )?dire|t'ai dit|vous ai dit)\b|\bque (?:t'ai|vous ai)-je dit\b",
    ),
    (LAST_SAID, "de", r"\bwas habe ich (?:dir |ihnen )?(?:gerade |eben |zuletzt )?(?:gesagt|geschrieben)\b"),
    (LAST_SAID, "pt", r"\bo que (?:eu )?(?:acabei de (?:te )?dizer|te disse|disse|escrevi)\b(?!\s+(?:que|sobre)\b)"),
    (LAST_SAID, "zh", r"我刚才说了什么|我刚说了什么|我刚才说什么|我说了什么"),
    # everything
    (EVERYTHING, "en", r"\bwhat (?:do|did) you (?:remember|know|recall) about me\b"),
    (EVERYTHING, "es", r"\bqu[ée] (?:recuerdas|sabes) (?:de|sobre) m[íi]\b"),
    (
        EVERYTHING,
        "fr",
        r"\bque (?:sais-tu|sais tu|retiens-tu|te rappelles-tu) (?:de|sur) moi\b|\bqu'est-ce que tu sais (?:de|sur) moi\b",  # noqa: E501
    ),
    (EVERYTHING, "de", r"\bwas (?:weißt|weisst) du (?:über|ueber|von) mir\b|\bwas merkst du dir über mich\b"),
    (EVERYTHING, "pt", r"\bo que (?:você|voce|tu) (?:sabe|lembra|sabes) (?:de|sobre) mim\b"),
    (EVERYTHING, "zh", r"你(?:记得|知道)(?:我|关于我)(?:的)?什么|你对我了解什么"),
    # address (before name: "what should you call me" names no "name")
    (
        ADDRESS_AS,
        "en",
        r"\b(?:what|how) (?:should|do|did) (?:you|i ask you to) (?:call|address) me\b|\bhow do i like to be (?:called|addressed)\b",  # noqa: E501
    ),
    (ADDRESS_AS, "es", r"\bc[óo]mo (?:debes|te ped[íi] que) (?:llamarme|me llames)\b"),
    (ADDRESS_AS, "fr", r"\bcomment (?:dois-tu|tu dois) m'appeler\b"),
    (ADDRESS_AS, "de", r"\bwie (?:sollst|solltest) du mich nennen\b"),
    (ADDRESS_AS, "pt", r"\bcomo (?:você deve|deves) me chamar\b"),
    (ADDRESS_AS, "zh", r"你(?:应该|该)怎么(?:叫|称呼)我"),
    # name
    (
        NAME,
        "en",
        r"\b(?:what(?:'s| is| was)|do you (?:know|remember)|tell me|you remember) my name\b|\bwho am i\b|\bremember (?:my name|who i am)\b",  # noqa: E501
    ),
    (
        NAME,
        "es",
        r"\bc[óo]mo me llamo\b|\bcu[áa]l es mi nombre\b|\b(?:sabes|recuerdas) (?:c[óo]mo me llamo|mi nombre)\b",
    ),
    (
        NAME,
        "fr",
        r"\bcomment (?:je m'appelle|je m’appelle|est-ce que je m'appelle|m'appelle-je)\b|\bquel est mon (?:nom|prénom)\b|\bte souviens-tu de mon nom\b",  # noqa: E501
    ),
    (
        NAME,
        "de",
        r"\bwie (?:heiße|heisse) ich\b|\bwie ist mein name\b|\b(?:weißt|weisst) du(?:,)? wie ich (?:heiße|heisse)\b|\bkennst du meinen namen\b",  # noqa: E501
    ),
    (NAME, "pt", r"\bqual (?:é )?o meu nome\b|\bcomo (?:eu )?me chamo\b|\b(?:lembra|sabe) (?:do )?meu nome\b"),
    (
        NAME,
        "it",
        r"\bcome mi chiamo\b|\bqual(?: è|e è|e e') il mio nome\b|\bti ricordi (?:il mio nome|come mi chiamo)\b",
    ),
    (NAME, "zh", r"我叫什么|我的名字(?:是什么|叫什么)|你(?:记得|知道)我的名字"),
    (
        NAME,
        "nl",
        r"\bhoe (?:heet|heette) ik\b|\bwat (?:is|was) mijn naam\b|\bweet je (?:nog )?(?:hoe ik heet|mijn naam)\b",
    ),
    (NAME, "ru", r"как меня зовут|как мо[её] имя|(?:помнишь|знаешь) мо[её] имя"),
    (NAME, "ja", r"(?:私|わたし|僕)の名前(?:は|って)?(?:何|なん)|(?:私|わたし|僕)の名前(?:を)?(?:覚えて|知って)"),
    (NAME, "ko", r"(?:제|내) 이름(?:이|은)?\s*(?:뭐|무엇)|(?:제|내) 이름(?:을)?\s*(?:기억|알아)"),
    (NAME, "ar", r"ما (?:هو )?اسمي|(?:هل )?(?:تتذكر|تذكر|تعرف) اسمي"),
    (NAME, "hi", r"मेरा नाम क्या|मेरा नाम याद|मेरा नाम (?:बताओ|बताइए|बताएं)"),
    (NAME, "tr", r"\b(?:ad[ıi]m|ismim) ne\w*|\b(?:ad[ıi]m[ıi]|ismimi) (?:hatırlıyor|biliyor)\w*"),
    (NAME, "pl", r"\bjak (?:mam na imię|się nazywam)\b|\bpamiętasz,? jak (?:mam na imię|się nazywam)\b"),
    # order number
    (
        ORDER_NUMBER,
        "en",
        r"\b(?:what(?:'s| is| was)|do you (?:know|remember)|tell me|remind me of) my order(?: number| no\.?| id| #)?\b|\bwhich order (?:number )?(?:was|is) (?:mine|it)\b|\bmy order number\s*\?",  # noqa: E501
    ),
    (
        ORDER_NUMBER,
        "es",
        r"\bcu[áa]l (?:es|era) (?:mi n[úu]mero de pedido|el n[úu]mero de mi pedido|mi pedido)\b|\b(?:recuerdas|sabes) mi (?:n[úu]mero de )?pedido\b",  # noqa: E501
    ),
    (
        ORDER_NUMBER,
        "fr",
        r"\bquel (?:est|était) (?:mon num[ée]ro de commande|le num[ée]ro de ma commande)\b|\bte souviens-tu de (?:ma commande|mon num[ée]ro de commande)\b",  # noqa: E501
    ),
    (
        ORDER_NUMBER,
        "de",
        r"\bwie (?:ist|war|lautet|lautete) meine bestellnummer\b|\bwelche bestellnummer\b|\b(?:weißt|weisst) du meine bestellnummer\b",  # noqa: E501
    ),
    (
        ORDER_NUMBER,
        "pt",
        r"\bqual (?:é|era) o (?:meu )?(?:n[úu]mero d[oe] )?(?:meu )?pedido\b"
        r"|\b(?:lembra|sabe) o (?:meu )?(?:n[úu]mero d[oe] )?(?:meu )?pedido\b",
    ),
    (ORDER_NUMBER, "zh", r"我的订单(?:号|编号)?(?:是)?(?:什么|多少)|你(?:记得|知道)我的订单"),
    # appointment
    (
        APPOINTMENT,
        "en",
        r"\bwhen(?:'s| is| was) my (?:appointment|booking|reservation)\b|\b(?:what time|what day) is my (?:appointment|booking|reservation)\b|\bdo you remember my (?:appointment|booking|reservation)\b",  # noqa: E501
    ),
    (
        APPOINTMENT,
        "es",
        r"\bcu[áa]ndo es mi (?:cita|reserva)\b|\b(?:a qu[ée] hora|qu[ée] d[íi]a) es mi (?:cita|reserva)\b",
    ),
    (APPOINTMENT, "fr", r"\bquand (?:est|a lieu) mon (?:rendez-vous|rdv)\b|\bc'est quand mon (?:rendez-vous|rdv)\b"),
    (APPOINTMENT, "de", r"\bwann (?:ist|war) mein termin\b"),
    (APPOINTMENT, "pt", r"\bquando (?:é|era) (?:a )?minha (?:consulta|reserva|marcação)\b"),
    (APPOINTMENT, "zh", r"我的预约(?:是)?(?:什么时候|几点|哪天)"),
    (
        APPOINTMENT,
        "en",
        r"\bwhat (?:date|day|time) did i (?:say|give you|tell you|mention|pick|choose|want)\b|"
        r"\bwhen did i say i(?:'d| would) (?:come|visit)\b",
    ),
    # "which order was I asking about?", "what number did I give you?" (answered from the order number, or the
    # phone number when no order number is kept)
    (
        ORDER_NUMBER,
        "en",
        r"\bwhich order (?:was i|did i|were we|am i)\b|\bwhat (?:number|code|reference) did i (?:give|gave|tell|say|mention|send)\b",  # noqa: E501
    ),
    (ALLERGY, "pt", r"\b(?:a que|ao que|do que) (?:eu )?(?:disse que )?(?:sou|era) al[ée]rgic[oa]\b"),
    (
        APPOINTMENT,
        "it",
        r"\b(?:per )?(?:che|quale) (?:data|giorno|ora) (?:ho|avevo|abbiamo) prenotato\b|\bquando (?:ho|avevo) prenotato\b",  # noqa: E501
    ),
    (APPOINTMENT, "es", r"\b(?:para )?qu[ée] (?:fecha|d[íi]a|hora) (?:reserv[ée]|te dije|ped[íi])\b"),
    (APPOINTMENT, "fr", r"\b(?:pour )?quelle (?:date|heure|jour) (?:j'ai réservé|ai-je réservé|je t'ai dit)\b"),
    (
        APPOINTMENT,
        "de",
        r"\bf[üu]r welchen (?:tag|termin|datum) habe ich (?:gebucht|reserviert)\b|\bwelches datum habe ich (?:dir )?(?:genannt|gesagt)\b",  # noqa: E501
    ),
    (APPOINTMENT, "pt", r"\b(?:para )?que (?:data|dia|hora) (?:eu )?(?:reservei|marquei|te disse)\b"),
    (APPOINTMENT, "en", r"\bwhat (?:was|is) the (?:date|day|time) (?:again|i (?:said|gave you|mentioned|booked))\b"),
    # birthday
    (BIRTHDAY, "en", r"\bwhen(?:'s| is) my birthday\b"),
    (BIRTHDAY, "es", r"\bcu[áa]ndo es mi cumpleaños\b"),
    (BIRTHDAY, "fr", r"\bquand est mon anniversaire\b"),
    (BIRTHDAY, "de", r"\bwann ist mein geburtstag\b"),
    (BIRTHDAY, "pt", r"\bquando é (?:o )?meu aniversário\b"),
    (BIRTHDAY, "zh", r"我的生日是(?:什么时候|哪天)"),
    # allergy
    (ALLERGY, "en", r"\bwhat am i allergic to\b|\bwhat (?:are|were) my allergies\b|\bdo you remember my allerg"),
    (ALLERGY, "es", r"\ba qu[ée] soy al[ée]rgic[oa]\b|\bcu[áa]les son mis alergias\b"),
    (ALLERGY, "fr", r"\b(?:à quoi|a quoi) (?:suis-je|je suis) allergique\b|\bquelles sont mes allergies\b"),
    (ALLERGY, "de", r"\bwogegen bin ich allergisch\b|\bwelche allergien habe ich\b"),
    (ALLERGY, "pt", r"\bsou al[ée]rgic[oa] a qu[êe]\b|\bquais s[ãa]o as minhas alergias\b"),
    (ALLERGY, "zh", r"我对什么过敏"),
    # language
    (LANGUAGE, "en", r"\bwhat language (?:do i (?:speak|prefer)|did i (?:say|ask for))\b"),
    (LANGUAGE, "es", r"\bqu[ée] idioma (?:hablo|prefiero)\b"),
    (LANGUAGE, "fr", r"\bquelle langue (?:je parle|est-ce que je parle|je préfère)\b"),
    (LANGUAGE, "de", r"\bwelche sprache (?:spreche|bevorzuge) ich\b"),
    (LANGUAGE, "pt", r"\bque (?:idioma|língua) (?:eu )?(?:falo|prefiro)\b"),
    (LANGUAGE, "zh", r"我说什么语言"),
    # preference
    (
        PREFERENCE,
        "en",
        r"\bwhat (?:do|did) i (?:prefer|say i prefer(?:red)?|like better)\b|\bwhat (?:are|were) my preferences\b|\bwhat is my preference\b|\bdo you remember (?:what i prefer|my preference)",  # noqa: E501
    ),
    (PREFERENCE, "es", r"\bqu[ée] (?:prefiero|prefer[íi])\b|\bcu[áa]les son mis preferencias\b"),
    (
        PREFERENCE,
        "fr",
        r"\b(?:qu'est-ce que je préfère|que (?:est-ce que )?je préfère|je préfère quoi)\b|\bquelles sont mes préférences\b",  # noqa: E501
    ),
    (PREFERENCE, "de", r"\bwas (?:bevorzuge|mag) ich\b|\bwas sind meine vorlieben\b"),
    (PREFERENCE, "pt", r"\bo que (?:eu )?prefiro\b|\bquais s[ãa]o as minhas prefer[êe]ncias\b"),
    (PREFERENCE, "zh", r"我(?:更)?喜欢什么|我的偏好是什么"),
]
_COMPILED = [(kind, language, re.compile(pattern, re.IGNORECASE)) for kind, language, pattern in _QUESTIONS]

# Beyond the phrasings above, a follow-up is recognised by its parts: it seeks information (a question word
# or a "remind me" verb), names the person's own fact ("my name", "mi pedido", "我的预约"), and asks for no
# action on it (change, cancel, where is, status...), which the knowledge base or a person must handle.
_SEEKING = re.compile(
    r"\b(?:what|what's|whats|when|when's|which|who|remember|recall|remind|repeat|tell me|what time|what day|"
    r"qu[ée]|cu[áa]l|cu[áa]ndo|c[óo]mo|recuerdas|me dices|me recuerdas|dime|rep[íi]teme|"
    r"quel|quelle|quand|comment|c'est quoi|rappelle|rappelles|souviens|redonner|redonne|dis-moi|"
    r"was|wann|wie|welche|welcher|wei(?:ß|ss)t|erinnerst|sag mir|sagen|nochmal|"
    r"qual|quando|como|o que|que horas|lembra|lembras|me diz|dizer|c'[ée]tait|quoi|"
    r"quale|cosa|ricordi|dimmi|ricordami|che|again|"
    r"wat|wanneer|hoe|welk|welke|weet je|nog|herinner\w*|vertel|"
    r"как\w*|что|когда|помнишь|напомни|скажи|"
    r"ne|nedir|neydi|nelerdi|hangi\w*|hatırl\w*|söyle\w*|"
    r"jak\w*|co|kiedy|pamiętasz|przypomnij|powiedz)\b|什么|多少|几点|哪|记得|告诉我|"
    r"何|いつ|覚えて|教えて|でしたっけ|だっけ|뭐|무엇|언제|기억|알려|어떤|ما|ماذا|متى|تذكر|تتذكر|أي|क्या|कब|कौन|याद|बता",
    re.IGNORECASE,
)
_ACTION = re.compile(
    r"\b(?:change|cancel|move|reschedul\w*|modify|update|track|status|where|arriv\w*|ship\w*|deliver\w*|refund|"
    r"cambiar|cancelar|mover|estado|d[óo]nde|llega\w*|env[íi]o|reembolso|annuler|modifier|d[ée]placer|statut|o[ùu]|"
    r"livraison|rembours\w*|[äa]ndern|verschieben|stornieren|absagen|wo|lieferung|erstattung|alterar|remarcar|"
    r"onde|entrega|reembolso|annuleren|wijzigen|waar|отменить|изменить|где|iptal|değiştir\w*|nerede|"
    r"anulować|zmienić|gdzie)\b|取消|更改|修改|改期|状态|物流|在哪|退款|キャンセル|変更|どこ|취소|변경|어디|إلغاء|تغيير|أين|रद्द|कहाँ",
    re.IGNORECASE,
)
# "What address did I give you for delivery?": asking back what the person said outweighs an action word in it.
_ASKS_BACK = re.compile(
    r"\b(?:(?:did|have) i (?:give|gave|say|said|tell|told|mention|send|sent|write|wrote)|i (?:gave|told) you|"
    r"te (?:di|dije|he dado|he dicho)|je (?:t'ai|vous ai) (?:donn[ée]|dit)|t'ai-je|"
    r"hab(?:e)? ich (?:dir|ihnen) (?:gegeben|gesagt)|(?:eu )?te (?:dei|disse)|ti ho (?:dato|detto))\b|"
    r"我(?:给|告诉)过?你",
    re.IGNORECASE,
)
_OWN_FACT: list[tuple[str, str, str]] = [
    (
        NAME,
        "en",
        r"\bmy name\b|\bwho i am\b|\bwho am i\b|\bwhat i(?:'m| am) called\b|"
        r"\b(?:what|which) name (?:is|was|did i give)\b|\bunder (?:what|which) name\b",
    ),
    (NAME, "es", r"\bmi nombre\b|\bme llam(?:o|aba)\b"),
    (NAME, "fr", r"\bmon (?:nom|prénom)\b|\bje m['’]appel(?:le|ais)\b"),
    (NAME, "de", r"\bmein(?:en)? name[n]?\b|\bich hei(?:ß|ss)e\b|\bhei(?:ß|ss)e ich\b|\bich hie(?:ß|ss)\b"),
    (NAME, "pt", r"\bmeu nome\b|\bme cham(?:o|ava)\b"),
    (NAME, "it", r"\bil mio nome\b|\bmi chiam(?:o|avo)\b"),
    (NAME, "zh", r"我的名字|我叫"),
    (
        ORDER_NUMBER,
        "en",
        r"\border (?:number|no\.?|#|id)\b|\b(?:booking|reservation|confirmation) (?:reference|number|code|ref)\b|"
        r"\breference (?:number|code)\b",
    ),
    (ORDER_NUMBER, "es", r"\b(?:c[óo]digo|n[úu]mero|localizador) de (?:la |mi )?(?:reserva|confirmaci[óo]n)\b"),
    (ORDER_NUMBER, "fr", r"\b(?:num[ée]ro|code|r[ée]f[ée]rence) de (?:la |ma )?(?:r[ée]servation|confirmation)\b"),
    (ORDER_NUMBER, "de", r"\b(?:buchungs|reservierungs|referenz|best[äa]tigungs)(?:nummer|code)\b"),
    (ORDER_NUMBER, "pt", r"\b(?:c[óo]digo|n[úu]mero) da (?:minha )?(?:reserva|confirma[çc][ãa]o)\b"),
    (ORDER_NUMBER, "it", r"\b(?:codice|numero) (?:di|della) (?:mia )?(?:prenotazione|conferma)\b"),
    (ORDER_NUMBER, "es", r"\bn[úu]mero de(?: mi)? pedido\b|\bmi n[úu]mero de pedido\b"),
    (ORDER_NUMBER, "fr", r"\bnum[ée]ro de(?: ma)? commande\b"),
    (ORDER_NUMBER, "de", r"\bbestellnummer\b"),
    (ORDER_NUMBER, "pt", r"\bn[úu]mero do(?: meu)? pedido\b|\bmeu n[úu]mero de pedido\b"),
    (ORDER_NUMBER, "it", r"\bnumero (?:d'ordine|dell'ordine)\b"),
    (ORDER_NUMBER, "zh", r"订单号|订单编号"),
    # "do you remember what my order was?": the order itself, when it is something to remember (not "what's in
    # my order?", which the knowledge base or a person must answer)
    (ORDER_NUMBER, "en", r"\b(?:remember|recall|remind me of|know)\b.{0,20}\bmy order\b"),
    (ORDER_NUMBER, "es", r"\b(?:recuerdas|sabes|recu[ée]rdame)\b.{0,20}\bmi pedido\b"),
    (ORDER_NUMBER, "fr", r"\b(?:souviens|rappelles|rappelle-moi|sais-tu)\b.{0,20}\bma commande\b"),
    (ORDER_NUMBER, "de", r"\b(?:erinnerst|wei(?:ß|ss)t)\b.{0,20}\bmeine bestellung\b"),
    (ORDER_NUMBER, "pt", r"\b(?:lembra|lembras|sabe)\b.{0,20}\bmeu pedido\b"),
    (ORDER_NUMBER, "it", r"\b(?:ricordi|sai|ricordami)\b.{0,20}\b(?:il )?mio ordine\b"),
    (APPOINTMENT, "en", r"\bmy (?:appointment|booking|reservation)\b|\bi (?:booked|have an appointment)\b"),
    (APPOINTMENT, "es", r"\bmi (?:cita|reserva)\b"),
    (APPOINTMENT, "fr", r"\bmon (?:rendez-vous|rdv)\b"),
    (APPOINTMENT, "de", r"\bmein(?:en)? termin\b"),
    (APPOINTMENT, "pt", r"\b(?:minha|a minha) (?:consulta|reserva|marcação)\b"),
    (APPOINTMENT, "zh", r"我的预约|我预约"),
    (EMAIL, "en", r"\b(?:my|which|what) e-?mail(?: address)?\b"),
    (EMAIL, "es", r"\bmi (?:correo|e-?mail)\b|\bqu[ée] correo\b"),
    (EMAIL, "fr", r"\bmon (?:adresse )?(?:e-?mail|courriel|mail)\b|\bquel (?:e-?mail|courriel)\b"),
    (EMAIL, "de", r"\bmeine e-?mail(?:-adresse)?\b|\bwelche e-?mail\b"),
    (EMAIL, "pt", r"\bmeu e-?mail\b|\bqual e-?mail\b"),
    (EMAIL, "it", r"\bla mia (?:e-?mail|mail)\b|\bquale (?:e-?mail|mail)\b"),
    (EMAIL, "zh", r"我的(?:邮箱|电子邮件|邮件地址)"),
    # "my phone" alone is the device ("what did I do with my phone"), not its number
    (
        PHONE,
        "en",
        r"\b(?:my|which|what) (?:phone|mobile|cell) number\b|\bmy number\b|\bwhich number\b|^(?:what(?:'s| is| was)|remind me of|tell me) my (?:phone|mobile|cell)\s*\??$",  # noqa: E501
    ),
    (PHONE, "es", r"\bmi (?:tel[ée]fono|n[úu]mero|m[óo]vil|celular)\b|\bqu[ée] (?:tel[ée]fono|n[úu]mero)\b"),
    (PHONE, "fr", r"\bmon (?:num[ée]ro|t[ée]l[ée]phone|portable)\b|\bquel num[ée]ro\b"),
    (PHONE, "de", r"\bmeine (?:telefon|handy)?nummer\b|\bwelche (?:telefon|handy)?nummer\b"),
    (PHONE, "pt", r"\bmeu (?:telefone|celular|n[úu]mero)\b|\bqual (?:telefone|n[úu]mero)\b"),
    (PHONE, "it", r"\bil mio (?:numero|telefono|cellulare)\b|\bquale numero\b"),
    (PHONE, "zh", r"我的(?:电话|手机)"),
    (POSTAL_ADDRESS, "en", r"\b(?:my|which|what) (?:home |delivery |postal |street )?address\b"),
    (POSTAL_ADDRESS, "es", r"\bmi direcci[óo]n\b|\bqu[ée] direcci[óo]n\b"),
    (POSTAL_ADDRESS, "fr", r"\bmon adresse\b|\bquelle adresse\b"),
    (POSTAL_ADDRESS, "de", r"\bmeine adresse\b|\bwelche adresse\b"),
    (POSTAL_ADDRESS, "pt", r"\bmeu endere[çc]o\b|\bqual endere[çc]o\b"),
    (POSTAL_ADDRESS, "it", r"\bil mio indirizzo\b|\bquale indirizzo\b"),
    (POSTAL_ADDRESS, "zh", r"我的地址"),
    (BIRTHDAY, "en", r"\bmy birthday\b"),
    (ALLERGY, "es", r"\bal[ée]rgic[oa]\b|\bmis alergias\b"),
    (ALLERGY, "fr", r"\ballergique\b|\bmes allergies\b"),
    (ALLERGY, "de", r"\ballergisch\b|\bmeine allergien\b"),
    (ALLERGY, "pt", r"\bal[ée]rgic[oa]\b|\bminhas alergias\b"),
    (ALLERGY, "it", r"\ballergic[oa]\b|\bmie allergie\b"),
    (ALLERGY, "zh", r"过敏"),
    (APPOINTMENT, "es", r"\breserv[ée]\b"),
    (APPOINTMENT, "fr", r"\bj'ai réservé\b|\bai-je réservé\b"),
    (APPOINTMENT, "de", r"\bhabe ich (?:gebucht|reserviert)\b|\bich (?:habe )?(?:gebucht|reserviert)\b"),
    (APPOINTMENT, "pt", r"\breservei\b|\bmarquei\b"),
    (APPOINTMENT, "it", r"\bho prenotato\b|\b(?:la )?mia prenotazione\b|\bil mio appuntamento\b"),
    (NAME, "nl", r"\bmijn naam\b|\bhoe ik heet\b|\bhoe heet ik\b"),
    (NAME, "ru", r"мо[её] имя|меня зовут"),
    (NAME, "ja", r"(?:私|わたし|僕)の名前"),
    (NAME, "ko", r"(?:제|내) 이름"),
    (NAME, "ar", r"اسمي"),
    (NAME, "hi", r"मेरा नाम"),
    (NAME, "tr", r"\b(?:ad[ıi]m|ismim)\w*"),
    (NAME, "pl", r"\bmam na imię\b|\bsię nazywam\b|\bmoje imię\b"),
    (ORDER_NUMBER, "nl", r"\b(?:bestelnummer|ordernummer|boekingsnummer|reserveringsnummer)\b|\bmijn bestelling\b"),
    (ORDER_NUMBER, "ru", r"номер (?:моего )?(?:заказа|бронирования|брони)|мой заказ"),
    (ORDER_NUMBER, "ja", r"(?:注文|予約|オーダー)番号"),
    (ORDER_NUMBER, "ko", r"(?:주문|예약)\s*번호"),
    (ORDER_NUMBER, "ar", r"رقم (?:طلبي|الطلب|طلبيتي|حجزي|الحجز)"),
    (ORDER_NUMBER, "hi", r"(?:ऑर्डर|आर्डर|बुकिंग) (?:नंबर|नम्बर|संख्या|आईडी)"),
    (ORDER_NUMBER, "tr", r"\b(?:sipariş|rezervasyon) numara\w*"),
    (ORDER_NUMBER, "pl", r"\bnumer (?:mojego )?(?:zamówienia|rezerwacji)\b|\bmoje zamówienie\b"),
    (EMAIL, "nl", r"\bmijn e-?mail(?:adres)?\b|\bwelk e-?mail(?:adres)?\b"),
    (
        EMAIL,
        "ru",
        r"мо(?:й|я) (?:e-?mail|email|имейл|емейл|почт\w*|электронн\w* почт\w*)|какой (?:e-?mail|email|имейл)",
    ),
    (EMAIL, "ja", r"メール(?:アドレス)?"),
    (EMAIL, "ko", r"이메일"),
    (EMAIL, "ar", r"بريدي|إيميلي|ايميلي|البريد الإلكتروني"),
    (EMAIL, "hi", r"(?:ईमेल|ई-मेल)"),
    (EMAIL, "tr", r"\be-?posta\w*|\bmail adres\w*"),
    (EMAIL, "pl", r"\bmój (?:adres )?e-?mail\b|\bjaki (?:adres )?e-?mail\b"),
    (PHONE, "nl", r"\bmijn (?:telefoonnummer|nummer|mobiele nummer)\b|\bwelk (?:telefoon)?nummer\b"),
    (PHONE, "ru", r"мой (?:номер телефона|телефон|номер)|номер (?:моего )?телефона"),
    (PHONE, "ja", r"電話番号"),
    (PHONE, "ko", r"전화번호|휴대폰 번호|핸드폰 번호|연락처"),
    (PHONE, "ar", r"رقم (?:هاتفي|جوالي|موبايلي|تلفوني)|رقمي"),
    (PHONE, "hi", r"(?:फ़ोन|फोन|मोबाइल) (?:नंबर|नम्बर)"),
    (PHONE, "tr", r"\b(?:telefon numara\w*|numaram\w*|cep numara\w*)"),
    (PHONE, "pl", r"\bmój (?:numer(?: telefonu)?|telefon)\b|\bnumer telefonu\b"),
    (APPOINTMENT, "nl", r"\bmijn (?:afspraak|reservering|boeking)\b|\bheb ik (?:geboekt|gereserveerd)\b"),
    (APPOINTMENT, "ru", r"мо(?:я|ей|ю) (?:запис\w*|брон\w*)|я записан\w*|(?:забронировал|записался)\w*"),
    (APPOINTMENT, "ja", r"予約"),
    (APPOINTMENT, "ko", r"예약"),
    (APPOINTMENT, "ar", r"موعدي|حجزي"),
    (APPOINTMENT, "hi", r"(?:अपॉइंटमेंट|बुकिंग|रिज़र्वेशन|रिजर्वेशन)"),
    (APPOINTMENT, "tr", r"\b(?:randevu\w*|rezervasyon\w*)"),
    (APPOINTMENT, "pl", r"\bmoja (?:wizyta|rezerwacja)\b|\bmoją (?:wizytę|rezerwację)\b|\bzarezerwowa\w*"),
    (ALLERGY, "nl", r"\ballergisch\b|\bmijn allergie\w*"),
    (ALLERGY, "ru", r"аллерги\w*"),
    (ALLERGY, "ja", r"アレルギー"),
    (ALLERGY, "ko", r"알레르기"),
    (ALLERGY, "ar", r"حساسية|حساسيتي"),
    (ALLERGY, "hi", r"एलर्जी"),
    (ALLERGY, "tr", r"\balerji\w*"),
    (ALLERGY, "pl", r"\buczulon[ya]\b|\balergi\w*"),
    (ALLERGY, "en", r"\bmy allerg\w*|\bi(?:'m| am) allergic\b"),
    (PREFERENCE, "en", r"\bmy preferences?\b|\bi (?:prefer|preferred)\b"),
    (PREFERENCE, "es", r"\bmis preferencias\b|\bprefiero\b|\bprefer[íi]\b"),
    (PREFERENCE, "fr", r"\bmes préférences\b|\bje (?:préfère|préférais)\b"),
    (PREFERENCE, "de", r"\bmeine vorlieben\b|\bich bevorzuge\b|\bbevorzuge ich\b"),
    (PREFERENCE, "pt", r"\b(?:minhas|as minhas) prefer[êe]ncias\b|\bprefiro\b"),
    (PREFERENCE, "zh", r"我(?:更)?喜欢|我的偏好"),
]
_OWN_FACT_COMPILED = [(kind, language, re.compile(pattern, re.IGNORECASE)) for kind, language, pattern in _OWN_FACT]


def asks_for_action(text: str) -> bool:
    """Whether `text` asks for something done about a fact (change, cancel, where is...) rather than asking it
    back: the knowledge base or a person handles those."""
    return bool(_ACTION.search(text)) and not _ASKS_BACK.search(text)


def memory_question(text: str) -> MemoryQuestion | None:
    """The memory follow-up `text` asks, or None when it asks something else (or is too long to be one)."""
    if len(text) > MAX_QUESTION_CHARS or asks_for_action(text):
        return None
    for kind, language, pattern in _COMPILED:
        if pattern.search(text):
            return MemoryQuestion(kind, language)
    if not _SEEKING.search(text):
        return None
    stated = {fact.kind for fact in extract_facts(text)}
    for kind, language, pattern in _OWN_FACT_COMPILED:
        if kind not in stated and pattern.search(text):
            return MemoryQuestion(kind, language)
    return None
