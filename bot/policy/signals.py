"""Word-level signals the turn policy reads: is a message about the business, about the person, harmful, a question.

They are deliberately broad where being wrong is cheap (a business question wrongly suspected is answered from the
knowledge base or declined, never invented) and narrow where it is not (a harmful request must be one).
The same business words are used to check the model's own replies for business claims.
"""

from __future__ import annotations

import re
import unicodedata

_FLAGS = re.IGNORECASE | re.UNICODE

# Things a customer asks a business about, in the six languages every fixed text ships in.
_BUSINESS_WORDS = (
    # en
    r"prices?|pric(ing|ed)|costs?|how much|fees?|charges?|pay(ing|ment|ments)?|paid|cards?|cash|refunds?|"
    r"returns?|exchange|deliver(y|ies|ed|ing)?|shipping|ship(ped|s)?|postage|parcel|package|orders?|ordered|"
    r"open(ing)?|close[sd]?|closing|hours?|weekends?|mondays?|tuesdays?|wednesdays?|thursdays?|fridays?|"
    r"saturdays?|sundays?|holidays?|book(ing|ings)?|reserv(e|ation|ations)|appointments?|available|"
    r"availability|stock|sell|sold|menu|discounts?|coupons?|vouchers?|offers?|sales?|gluten|vegan|vegetarian|"
    r"allerg\w*|address|located|location|parking|wifi|warrant(y|ies)|guarantee|accounts?|subscriptions?|"
    r"cancel\w*|membership|contact|phone|e-?mail|owner|products?|services?|buy(ing)?|purchase[sd]?|rent(al)?|"
    r"hire|shop|store|branch|loan|interest|balance|transfers?|withdraw\w*|deposit\w*|atm|pin|bank|fraud|"
    r"insurance|policy|policies|rules|deadline|schedule|timetable|tickets?|free|cheap|expensive|minimum|"
    r"maximum|size|sizes|colou?rs?|ingredients?|contain|tax|vat|invoice|receipt|"
    # es
    r"precios?|cuesta|cuánto|cuanto|tarifas?|pago|pagar|tarjetas?|efectivo|reembolsos?|devoluci\w+|envíos?|"
    r"envio|entrega|pedidos?|abierto|abren|cierran|horarios?|reserva\w*|cita|disponible|tienen|venden|"
    r"descuentos?|oferta|dirección|tienda|cuenta|cancelar|gratis|"
    # fr
    r"prix|coûte|combien|frais|paiement|payer|carte|espèces|rembourse\w*|retour|livraison|livrer|commande\w*|"
    r"ouvert\w*|ferm\w+|horaires?|réserv\w+|rendez-vous|disponible|vendez|avez-vous|remise|promo\w*|adresse|"
    r"magasin|boutique|compte|annuler|gratuit|"
    # de
    r"preis\w*|kostet|kosten|wie viel|wieviel|gebühr\w*|bezahl\w*|zahlung|karte|bargeld|erstattung|rückgabe|"
    r"umtausch|lieferung|liefern|versand|bestellung\w*|bestellen|geöffnet|öffnungszeiten|offen|geschlossen|"
    r"reservier\w*|termin\w*|verfügbar|verkauft|verkaufen|rabatt|angebot\w*|adresse|laden|geschäft|konto|"
    r"kündig\w*|storn\w*|kostenlos|gratis|"
    # pt
    r"preços?|custa|quanto|taxas?|pagamento|pagar|cartão|dinheiro|reembolso|devolução|troca|entrega|"
    r"pedidos?|aberto|abrem|fecham|horários?|reserva\w*|marcar|disponível|vendem|desconto|promoção|endereço|"
    r"loja|conta|cancelar|grátis"
)
_BUSINESS = re.compile(rf"(?<!\w)({_BUSINESS_WORDS})(?!\w)", _FLAGS)
_BUSINESS_ZH = re.compile(
    r"价格|多少钱|价钱|费用|收费|付款|支付|刷卡|现金|退款|退货|换货|送货|配送|快递|运费|订单|下单|营业|开门|关门|"
    r"几点|时间|预约|预订|订位|有货|库存|卖|菜单|折扣|优惠|地址|在哪|停车|保修|账户|账号|取消|会员|电话|邮箱|"
    r"产品|服务|购买|租|免费|贷款|利息|余额|转账|银行"
)
# "We have / our shop": a reply speaking for the business.
_SPEAKS_FOR_BUSINESS = re.compile(
    r"(?<!\w)(we|we're|we've|we'll|our|ours|us|nosotros|nuestr[oa]s?|nous|notre|nos|wir|unser\w*|nós|noss[oa]s?)"
    r"(?!\w)|我们",
    _FLAGS,
)
_FACT_TOKENS = re.compile(r"\d|[$€£¥₹]|https?://|www\.|@\w+\.\w+")

_QUESTION_START = re.compile(
    r"^\W*(what|what's|whats|when|where|which|who|whom|whose|why|how|do|does|did|can|could|is|are|was|were|will|"
    r"would|should|shall|may|have|has|any|qué|que|cuál|cual|cuándo|cuando|dónde|donde|cómo|como|quién|"
    r"cuánto|cuanto|puedo|pueden|hay|tienen|quoi|quel|quelle|quels|quelles|quand|où|comment|combien|"
    r"pourquoi|est-ce|puis-je|pouvez|avez|was|wann|wo|wer|wie|welche\w*|warum|kann|können|gibt|habt|haben|"
    r"ist|sind|o que|qual|quais|quando|onde|quem|posso|vocês|tem|têm)(?!\w)",
    _FLAGS,
)
_QUESTION_ZH = re.compile(r"吗|呢|什么|怎么|哪|几|多少|是否|能不能|可不可以|有没有|为什么|？")

# Questions about the person themself ("What's my name?", "what did I tell you?"): memory, not the business.
# Questions about the bot's own tastes ("do you like music?", "¿cuál es tu color favorito?"): small talk, unless a
# business word is in them (checked by the caller).
_PREFERENCE = re.compile(
    r"^\W*(hey|hi|so|and|but|tell me|ok|okay)?\W*("
    r"(do|don't|dont) you (like|love|enjoy|prefer|listen to|watch|play)\b|what('?s| is| are) your fav(ou)?rites?\b|"
    r"what (kind|sort|type) of \w+ do you (like|enjoy|listen to|watch)\b|who('?s| is) your fav(ou)?rite\b|"
    r"¿?\s*(a ti )?te gustan?\b|¿?\s*cu[aá]l es tu \w+ favorit[oa]\b|"
    r"(est-ce que )?tu aimes\b|aimes-tu\b|quel(le)? est (ton|ta) \w+ pr[eé]f[eé]r[eé]e?\b|"
    r"magst du\b|liebst du\b|was ist dein lieblings|"
    r"(voc[eê] )?gosta (de|do|da|dos|das)\b|qual [eé] (o seu|a sua|o teu|a tua) \w+ favorit[oa]\b"
    r")|^\W*你(最)?喜欢",
    _FLAGS,
)
# "Do you like our coffee?" asks about the business's products, not the bot's tastes.
_ABOUT_US = re.compile(r"\b(our|ours|nuestr[oa]s?|notre|nos|unser\w*|noss[oa]s?)\b|我们", _FLAGS)
_PERSONAL = re.compile(
    r"\b(what|which|when|who)('?s| is| was| were| are)? my (name|age|birthday|date of birth|favou?rite \w+|"
    r"e-?mail( address)?|phone number|number|order number|booking number|reference( number)?|\w+'s name)\b|"
    r"\bwho am i\b|\bwhat (did|have) i (just |already )?(say|said|tell|told|mention|mentioned|write|written)\b|"
    r"\bwhat was (it|that) i (just )?(said|told you)\b|\bdid i (tell|say|mention)\b|"
    r"\bdo you (remember|recall|know) (me|my|what i|who i|when i)\b|\bremind me (of )?(my|what|who)\b|"
    r"^\W*(my name is|my name's|call me|i am called|i'm called)\b|"
    r"\bmy (name|order number|booking number|birthday|date of birth|email|phone number|favou?rite \w+) (is|was)\b|"
    r"\b(cómo me llamo|cuál es mi nombre|te acuerdas|recuerdas (mi|lo que)|me llamo|mi nombre es)\b|"
    r"\b(comment je m'appelle|quel est mon nom|tu te souviens|vous vous souvenez|je m'appelle|mon nom est)\b|"
    r"\b(wie heiße ich|wie ist mein name|erinnerst du dich|weißt du noch|ich heiße|mein name ist)\b|"
    r"\b(qual é o meu nome|qual o meu nome|como eu me chamo|você lembra|lembra (do|o que)|meu nome é|eu me chamo)\b|"
    r"我叫什么|我的名字|你记得|我是谁|我叫",
    _FLAGS,
)

# Requests for serious harm. Narrow on purpose: a false positive refuses an innocent customer.
_HARMFUL = re.compile(
    r"\b(how (do i|to|can i|would i)|help me|teach me|tell me how to|show me how to|instructions? (for|to)|"
    r"recipe for|steps to|way to)\b.{0,40}\b(make|build|cook|synthesi[sz]e|create|get|buy|hide|use|assemble)\b.{0,30}"
    r"\b(bombs?|explosives?|pipe bomb|napalm|meth(amphetamine)?|nerve agent|sarin|ricin|poisons?|untraceable|"
    r"gun|weapon|molotov)\b|"
    r"\b(how (do i|to|can i|could i|would i)|help me|(\w+est |best |a )?ways? to)\b.{0,30}"
    r"\b(kill(?! (the )?time)|murder|poison|stab|strangle|hurt|injure|beat up|kidnap|torture)\b"
    r".{0,20}\b(someone|somebody|people|a person|my|him|her|them|the)\b|"
    r"\b(how (do i|to|can i)|help me)\b.{0,30}\b(hack into|break into|steal|phish|launder)\b|"
    r"\b(c[oó]mo (puedo |se puede |podr[ií]a )?(hago|hacer|fabricar|preparar|construir)|fabricar|preparar)\b"
    r".{0,30}\b(bomba|explosivos?|veneno|metanfetamina|arma)\b|"
    r"\bc[oó]mo (puedo |se puede )?(matar|envenenar|herir) (a )?(alguien|una persona|mi|mis|él|ella|gente)\b|"
    r"\b(comment (je peux |puis-je |peut-on |on peut )?(faire|fabriquer|construire)|fabriquer)\b.{0,30}"
    r"\b(bombe|explosifs?|poison|arme)\b|"
    r"\bcomment (je peux |puis-je |peut-on )?(tuer|empoisonner|blesser) (quelqu'un|une personne|mon|ma|mes|les gens)|"
    r"\b(wie (baue|mache|bastle|baut man|macht man) (ich|man)|wie (kann|könnte) ich .{0,20}(bauen|machen|herstellen)|"
    r"bauanleitung)\b.{0,30}\b(bombe|sprengstoff|gift|waffe)\b|"
    r"\bwie (kann|könnte) (ich|man) .{0,20}\b(vergiften|töten|umbringen|verletzen)\b|"
    r"\b(como (posso |se pode )?(fazer|fabricar|construir)|fabricar)\b.{0,30}\b(bomba|explosivos?|veneno|arma)\b|"
    r"\bcomo (posso |se pode )?(matar|envenenar|ferir) (a )?(alguém|uma pessoa|meu|minha|ele|ela|pessoas)\b|"
    r"(怎么|如何).{0,10}(制造|做|制作).{0,6}(炸弹|炸药|毒药|毒品|枪)|(怎么|如何).{0,6}(杀|毒死|伤害)(人|别人|他|她)|"
    # Asked for without "how": a tool of fraud or intrusion ("write me a phishing email"), or a guide to harm
    # ("a step by step guide to poison ...").
    r"\b(write|make|create|build|generate|code|give|send|escribe|écris|schreib|escreva|crea|crée)\b.{0,20}"
    r"\b(phishing|malware|ransomware|keylogger|spyware)\b|"
    r"\b(guide|tutorial|steps?|instructions?)\b.{0,20}\b(to|for|on|para|pour|zum|per)\b.{0,10}"
    r"\b(poison\w*|kill\w*|murder\w*|stab\w*|envenenar|empoisonner|vergiften)\b|"
    # Breaking into someone's account, in any of the languages.
    r"\b(hack(ear|er|en)?|hack into|pirater|piratear|break into)\b.{0,30}"
    r"\b(account|password|instagram|facebook|email|cuenta|contraseña|compte|mot de passe|konto|passwort|conta|"
    r"senha|account di)\b|"
    # Making hard drugs or poisons, in the other languages too.
    r"\b(make|cook|synthesi[sz]e|fabricar|preparar|cocinar|fabriquer|faire|préparer|herstellen|kochen|machen|"
    r"fazer|produzir|produrre|fare|preparare|costruire)\b.{0,20}"
    r"\b(meth|m[ée]th?amph[ée]tamin[ea]?|metanfetamina|crystal meth|hero[ií]n[ea]?|fentanyl|fentanilo|"
    r"bomb[ae]s?|bombe|explosiv[eo]s?|esplosiv[oi]|veleno)\b|"
    r"\b(methamphetamin|crystal|heroin|fentanyl|bombe|sprengstoff|gift)\b.{0,20}\b(herstellen|machen|bauen|kochen)\b|"
    r"\bcome (posso |si può )?(fare|costruire|fabbricare|preparare)\b.{0,30}\b(bomba|esplosivo|veleno|arma)\b|"
    r"\bcome (posso |si può )?(uccidere|avvelenare|ferire) (qualcuno|una persona|mio|mia|lui|lei)\b",
    _FLAGS,
)
_SELF_HARM = re.compile(
    r"\b(kill myself|end my life|suicide|hurt myself|self[- ]harm|want to die|matarme|suicid\w+|me tuer|"
    r"mich umbringen|me matar)\b|自杀|不想活",
    _FLAGS,
)


def fold(text: str) -> str:
    """Lowercase without accents ("Qué" -> "que"), for loose matching."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def business_words(text: str) -> list[str]:
    """The business words in `text` ("price", "deliver", "营业"), lowercased."""
    found = [match.group(0).lower() for match in _BUSINESS.finditer(text)]
    found.extend(match.group(0) for match in _BUSINESS_ZH.finditer(text))
    return found


def is_about_business(text: str) -> bool:
    """Whether `text` mentions something a customer asks a business about (prices, hours, delivery, ...)."""
    return bool(business_words(text))


def is_question(text: str) -> bool:
    """A question by its mark or its first word, in the six fixed-text languages."""
    stripped = text.strip()
    return "?" in stripped or "¿" in stripped or bool(_QUESTION_START.match(stripped) or _QUESTION_ZH.search(stripped))


def is_personal(text: str) -> bool:
    """About the person themself ("What's my name?", "My name is Lena."): a memory turn, not a business one."""
    return bool(_PERSONAL.search(text))


def is_preference_question(text: str) -> bool:
    """A question about the bot's own tastes ("do you like music?"): small talk when no business word is in it."""
    return bool(_PREFERENCE.search(text)) and not _ABOUT_US.search(text)


def is_harmful_request(text: str) -> bool:
    """A request for help with serious harm to others (weapons, poisons, violence, break-ins)."""
    return bool(_HARMFUL.search(text))


def is_self_harm(text: str) -> bool:
    """Words of self-harm: answered with care and a pointer to help, never with the model."""
    return bool(_SELF_HARM.search(text))


def business_claim(text: str) -> str | None:
    """Why a model reply would state something about the business (a number, a price, a link, a business word,
    "we/our"), or None when it states nothing the owner must stand behind."""
    if _FACT_TOKENS.search(text):
        return "number_or_link"
    if is_about_business(text):
        return "business_word"
    if _SPEAKS_FOR_BUSINESS.search(text):
        return "speaks_for_business"
    return None
