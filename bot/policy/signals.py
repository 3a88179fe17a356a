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
    r".{0,20}\b(someone|somebody|people|a person|him|her|them|(my|the) (?!credit|score|chances|battery|"
    r"eyes|back|knee|feet|hands?)\w+)\b|"
    r"\b(how (do i|to|can i)|help me)\b.{0,30}\b(hack into|break into|steal|phish|launder (money|cash|funds))\b|"
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
    r"\b(make|makes|making|cook|cooks|cooking|synthesi[sz]e|fabricar|preparar|cocinar|fabriquer|faire|préparer|herstellen|kochen|machen|"
    r"fazer|produzir|produrre|fare|preparare|costruire)\b.{0,20}"
    r"\b(meth|m[ée]th?amph[ée]tamin[ea]?|metanfetamina|crystal meth|hero[ií]n[ea]?|fentanyl|fentanilo|"
    r"bomb[ae]s?|bombe|explosiv[eo]s?|esplosiv[oi]|veleno)\b|"
    r"\b(methamphetamin|crystal|heroin|fentanyl|bombe|sprengstoff|gift)\b.{0,20}\b(herstellen|machen|bauen|kochen)\b|"
    r"\bcome (posso |si può )?(fare|costruire|fabbricare|preparare)\b.{0,30}\b(bomba|esplosivo|veleno|arma)\b|"
    r"\bcome (posso |si può )?(uccidere|avvelenare|ferire) (qualcuno|una persona|mio|mia|lui|lei)\b",
    _FLAGS,
)
# Beyond the phrasings above, a harmful request is recognised by its parts, in seven languages: it asks for
# something (a question word, "teach me", "write", "step by step", a plan or a guide) and names an act of harm
# ("hack into", "clone a card", "poison", "stalk", "launder", "fake reviews"), or it asks how to do anything
# while escaping the law ("without getting caught", "sin dejar rastro", "untraceable").
_ASKS_FOR = re.compile(
    r"\b(how (to|do|can|could|would|should|much|many)|ways? to|can (you|u)|could you|help me|teach me|show me|"
    r"tell me|explain|give me|write|make me|a plan|guide|step[- ]by[- ]step|in detail|easiest|best way|"
    r"c[oó]mo (puedo|hago|se|hacer|podr[ií]a)|dime|ens[eé][ñn]ame|expl[ií]ca(me)?|escr[ií]be(me)?|dame|"
    r"paso a paso|comment (je|on|faire|peut|puis)|explique(-moi)?|[eé]cris(-moi)?|donne(-moi)?|apprends(-moi)?|"
    r"[eé]tape par [eé]tape|wie (kann|k[öo]nnte|mache|baue|macht|geht)|erkl[äa]r\w*|schreib\w*|gib mir|"
    r"zeig mir|anleitung|schritt f[üu]r schritt|como (eu |posso|fa[çc]o|se|fazer)|me ensin\w+|explica|escreva|"
    r"me d[aá]|passo a passo|come (posso|si|faccio|fare)|spiegami|scrivi(mi)?|dammi|insegnami|passo dopo passo)"
    r"\b|怎么|如何|教我|告诉我|步骤|帮我",
    _FLAGS,
)
# Acts of harm, one kind per line; each names a victim or a tool, so that a customer's own trouble ("my account
# got hacked", "is this plant poisonous?") is not one.
_HARM_ACTS = (
    # breaking into someone else's account, phone or network
    r"(\b(hack(ing|ear|er|en)?|crack|break into|pirater|piratear|hackern|invadir|bucare)\b|"
    r"\bget into (my |a )?(someone|somebody|other people|\w+)'s\b|\bget into (his|her|their)\b).{0,40}"
    r"\b(account|password|instagram|facebook|whatsapp|wifi|wi-fi|phone|email|cuenta|contrase[ñn]a|compte|"
    r"mot de passe|konto|passwort|handy|conta|senha|celular|vecino|voisin|nachbarn?|vizinho|vicino)\w*",
    # stealing or cloning cards and identities (not "my card", the victim's words)
    r"\b(clone|clono|cloner|clonar|skim|steal|voler|robar|roubar|klonen|stehlen|rubare|clonare)\b.{0,30}"
    r"(?<!\bmy )(?<!\bmi )(?<!\bma )(?<!\bmeine )(?<!\bmeu )(?<!\bmia )\b(cards?|credit|identity|passwords?|"
    r"tarjetas?|cartes?|karten?|cart[aã]o|cart[ae] di credito|bancaires?|identidad|identit[eé])\b",
    # poisoning, stalking, harassing a person
    r"\b(poison (him|her|them|someone|somebody|my|a|the|his|their)|envenenar|empoisonner|vergiften|avvelenare|"
    r"spike (his|her|their|a|my)|acosar a|hostigar a|harceler (quelqu'un|mon|ma|les)|perseguitare|"
    r"(stalk(ing)?|harass(ing)?|dox+(ing)?|intimidate|threaten) (someone|somebody|him|her|them|people|a person|"
    r"my \w+|this \w+))\b|\b(jemanden|ihn|sie|meine \w+|meinen \w+)\b.{0,30}\b(stalken|auflauern|bel[äa]stigen|"
    r"mobben)\b",
    # fraud: laundering, forging, impersonating, fake reviews and documents
    r"\b(launder (the |my |some |dirty )?(money|cash|funds)|blanquear (el )?dinero|blanchir (de l'|l')?argent|"
    r"geld waschen|lavar dinheiro|riciclare (il )?denaro|falsificar|contrefaire|f[äa]lschen|falsificare)\b",
    r"\b(pretending|pretend|posing|poser) (to be|as) (from )?(the |a |your )?(bank|police|paypal|amazon|tax office|"
    r"irs|government)\b",
    r"\b(write|make|get|buy|create|generate|post|need|print)\b.{0,20}\bfake (reviews?|ids?|passports?|"
    r"documents?|money|bills|notes?)\b",
    # toxic gas, something slipped into a drink
    r"\b(make|create|produce|mix)\b.{0,30}\b(toxic|poisonous|deadly) (gas|fumes)\b",
    r"\b(put|add|mix|slip|pour)\b.{0,30}\b(bleach|rat poison|antifreeze)\b.{0,40}\b(drink|food|coffee|tea)\b",
    r"\b(bleach|rat poison|antifreeze)\b.{0,30}\b(put|add|mix|slip|pour)\b.{0,30}\b(drink|food|coffee|tea)\b",
    # a weapon with no licence, made at home or untraceable
    r"\b(make|build|get|buy|conseguir|comprar|obtenir|acheter|kaufen|besorgen|arranjar|procurare)\b.{0,30}"
    r"\b(guns?|firearms?|weapons?|armas?|armes?|waffen?|arma de fogo|pistol\w*|rifles?)\b.{0,40}"
    r"\b(untraceable|traced|licen[cs]e|licencia|permis|waffenschein|licen[çc]a|porto d'armi|home|casa|"
    r"maison|hause?)\b",
    r"\b(fabriquer|faire|fabricar|herstellen|produrre)\b.{0,20}\b(drogues?|drogas?|drogen|droghe)\b",
    # hurting a person
    r"\b(fare del male|far male|hurt|harm|injure|make .{0,15} sick|verletzen|blesser|machucar|lastimar|"
    r"lesionar|ferire)\b.{0,30}\b(someone|somebody|him|her|them|people|a person|alguien|quelqu'un|jemanden|"
    r"algu[eé]m|qualcuno|((my|mi|mon|ma|mio|mia|al mio|alla mia|meinen?|meine|meu|minha) (ex|roommate|"
    r"coworker|colleague|boss|neighbou?r|wife|husband|girlfriend|boyfriend|sister|brother|friend|teacher|"
    r"vecin[oa]|voisin\w*|nachbar\w*|vizinh[oa]|vicin[oa]|collega|coll[eè]gue|kollege\w*|chef|jefe|chefe|capo)))\b",
    r"黑进|入侵|盗号|盗取|偷.{0,4}(密码|账号|卡)|下毒|毒死|跟踪|骚扰|洗钱|伪造|诈骗",
)
_HARM_ACT = re.compile("|".join(f"(?:{part})" for part in _HARM_ACTS), _FLAGS)
# Someone asking for help against harm done to them ("how do I stop someone stalking me?") is not asking for it.
_AGAINST_HARM = re.compile(
    r"\b(stop|report|block|protect|prevent|avoid|deal with|victim|detect|spot|recogni[sz]e|someone (is|has been|"
    r"keeps)|somebody (is|has been|keeps)|denunciar|evitar|proteger(me)?|parar|signaler|[ée]viter|prot[ée]ger|"
    r"melden|sch[üu]tzen|verhindern|segnalare|proteggere|evitare)\b|举报|防止|保护",
    _FLAGS,
)
_ESCAPING_THE_LAW = re.compile(
    r"\b(without (getting|being) caught|without (the )?(police|cops) (knowing|finding out|noticing)|"
    r"untraceable|(can'?t|cannot|won'?t) be traced|without leaving (a )?traces?|"
    r"sin que (nadie|la polic[ií]a) (se entere|lo sepa|me pille)|sin dejar rastros?|sin ser descubiert[oa]|"
    r"sans (me|se|nous) faire (prendre|attraper|choper)|sans laisser de traces?|"
    r"ohne erwischt zu werden|ohne (dass|das) (es )?(jemand|einer|die polizei) (merkt|mitbekommt)|ohne spuren|"
    r"sem (ser peg[oa]|deixar rastros?)|sem que (ningu[eé]m|a pol[ií]cia) (saiba|perceba)|"
    r"senza (lasciare tracce|farmi (beccare|scoprire)|essere scopert[oa]))\b|不被(发现|抓)|不留痕迹",
    _FLAGS,
)
# Framings that ask the bot to drop its rules ("pretend you're DAN", "ignore all previous instructions"): an
# attempt on the bot itself, refused whatever follows.
_JAILBREAK = re.compile(
    r"\b(ignore|disregard|forget) (all |any |your )?(the )?(previous|prior|above|earlier|your) "
    r"(instructions|rules|prompts?|guidelines)\b|\b(you are|you're|act as|pretend (to be|you'?re|you are)) "
    r"(now )?(dan|an? (ai|assistant|chatbot|bot) (with(out)?|that has) no (rules|limits|restrictions|filters?))\b|"
    r"\b(do anything now|developer mode|jailbreak(ed)?|unfiltered (ai|assistant|mode)|no (moral|ethical) "
    r"(limits|rules|guidelines))\b|\b(sans (morale|r[eè]gles|filtres?|limites))\b|"
    r"\b(sin (reglas|filtros|restricciones|moral))\b|\b(ohne (regeln|filter|moral|einschr[äa]nkungen))\b|"
    r"\b(sem (regras|filtros|restri[çc][õo]es))\b|\b(senza (regole|filtri|restrizioni))\b|"
    r"忽略(之前|以上|所有)的?(指令|规则)|没有(任何)?(限制|规则)的",
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
    """A request for help with serious harm to others (weapons, poisons, violence, break-ins, fraud, stalking),
    or an attempt to make the bot drop its rules."""
    if _HARMFUL.search(text) or _JAILBREAK.search(text):
        return True
    asks = bool(_ASKS_FOR.search(text)) or is_question(text)
    if not asks or _AGAINST_HARM.search(text):
        return False
    return bool(_HARM_ACT.search(text) or _ESCAPING_THE_LAW.search(text))


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
