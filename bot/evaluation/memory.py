"""A multi-turn memory evaluation: a fact is stated, 1-20 other turns follow, the bot restarts or not, then
the person asks for the fact back. The bot runs whole (manager, routes, gate, the configured model).

This is our own set (written for this feature, phrasings in six languages); it is a regression check and a
demo, not evidence of quality on other people's phrasing. Each conversation is a separate private chat.
Besides the follow-up accuracy it checks privacy: the same question from another member, and in another
chat, must not get the fact.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.config import LoadedConfig
from bot.messages import Author, ConversationKey, IncomingMessage

GAPS = (1, 3, 5, 10, 20)

# (kind, language) -> statement templates with {v}, and follow-up questions.
STATEMENTS: dict[tuple[str, str], list[str]] = {
    ("name", "en"): ["Hi, my name is {v}.", "Hello! My name's {v}, nice to meet you", "I'm {v}"],
    ("name", "es"): ["Hola, me llamo {v}.", "Mi nombre es {v}"],
    ("name", "fr"): ["Bonjour, je m'appelle {v}.", "Mon prénom est {v}"],
    ("name", "de"): ["Hallo, ich heiße {v}.", "Mein Name ist {v}"],
    ("name", "pt"): ["Olá, meu nome é {v}.", "Eu me chamo {v}"],
    ("name", "zh"): ["你好，我叫{v}。", "我的名字是{v}"],
    ("order_number", "en"): ["My order number is {v}.", "Hi, my order # is {v}, it hasn't shipped yet"],
    ("order_number", "es"): ["Mi número de pedido es {v}.", "Hola, mi pedido es el {v}"],
    ("order_number", "fr"): ["Mon numéro de commande est {v}.", "Ma commande est la {v}"],
    ("order_number", "de"): ["Meine Bestellnummer ist {v}.", "Bestellung Nr. {v}, bitte prüfen"],
    ("order_number", "pt"): ["O número do meu pedido é {v}.", "Meu pedido é o {v}"],
    ("order_number", "zh"): ["我的订单号是{v}。", "订单号：{v}"],
    ("appointment", "en"): ["My appointment is on {v}.", "I have an appointment {v}"],
    ("appointment", "es"): ["Mi cita es el {v}.", "Tengo una cita el {v}"],
    ("appointment", "fr"): ["Mon rendez-vous est le {v}.", "J'ai un rendez-vous le {v}"],
    ("appointment", "de"): ["Mein Termin ist am {v}.", "Ich habe einen Termin am {v}"],
    ("appointment", "pt"): ["Minha consulta é na {v}.", "Tenho uma consulta na {v}"],
    ("appointment", "zh"): ["我的预约是{v}。", "我预约了{v}"],
    ("preference", "en"): ["I prefer {v}.", "I'd rather {v}"],
    ("preference", "es"): ["Prefiero {v}."],
    ("preference", "fr"): ["Je préfère {v}."],
    ("preference", "de"): ["Ich bevorzuge {v}."],
    ("preference", "pt"): ["Prefiro {v}."],
    ("preference", "zh"): ["我更喜欢{v}。"],
}
QUESTIONS: dict[tuple[str, str], list[str]] = {
    ("name", "en"): ["What's my name?", "Do you remember my name?", "Sorry, what is my name again?"],
    ("name", "es"): ["¿Cómo me llamo?", "¿Cuál es mi nombre?"],
    ("name", "fr"): ["Comment je m'appelle ?", "Quel est mon nom ?"],
    ("name", "de"): ["Wie heiße ich?", "Weißt du, wie ich heiße?"],
    ("name", "pt"): ["Qual é o meu nome?", "Como eu me chamo?"],
    ("name", "zh"): ["我叫什么名字？", "你记得我的名字吗？"],
    ("order_number", "en"): ["What was my order number?", "Can you remind me of my order number?"],
    ("order_number", "es"): ["¿Cuál era mi número de pedido?", "¿Recuerdas mi pedido?"],
    ("order_number", "fr"): ["Quel était mon numéro de commande ?"],
    ("order_number", "de"): ["Wie war meine Bestellnummer?", "Welche Bestellnummer hatte ich?"],
    ("order_number", "pt"): ["Qual era o número do meu pedido?"],
    ("order_number", "zh"): ["我的订单号是多少？"],
    ("appointment", "en"): ["When is my appointment?", "What day is my appointment?"],
    ("appointment", "es"): ["¿Cuándo es mi cita?"],
    ("appointment", "fr"): ["Quand est mon rendez-vous ?"],
    ("appointment", "de"): ["Wann ist mein Termin?"],
    ("appointment", "pt"): ["Quando é minha consulta?"],
    ("appointment", "zh"): ["我的预约是什么时候？"],
    ("preference", "en"): ["What do I prefer?", "Do you remember what I prefer?"],
    ("preference", "es"): ["¿Qué prefiero?"],
    ("preference", "fr"): ["Qu'est-ce que je préfère ?"],
    ("preference", "de"): ["Was bevorzuge ich?"],
    ("preference", "pt"): ["O que eu prefiro?"],
    ("preference", "zh"): ["我喜欢什么？"],
}
VALUES: dict[tuple[str, str], list[str]] = {
    ("name", "en"): ["Anna", "Marcus", "Priya", "Tom"],
    ("name", "es"): ["Lucía", "Javier", "Carmen"],
    ("name", "fr"): ["Élodie", "Mathieu", "Camille"],
    ("name", "de"): ["Jürgen", "Katrin", "Lukas"],
    ("name", "pt"): ["João", "Beatriz", "Rafael"],
    ("name", "zh"): ["李明", "王芳", "张伟"],
    ("order_number", "*"): ["A-48213", "771204", "ZX-5521", "30917", "B7-2210"],
    ("appointment", "en"): ["Friday at 3pm", "Monday 10:30", "March 14 at noon"],
    ("appointment", "es"): ["lunes a las 10", "viernes a las 16:00"],
    ("appointment", "fr"): ["mardi à 14h", "12 mars à 9h"],
    ("appointment", "de"): ["Dienstag um 9 Uhr", "Freitag um 15 Uhr"],
    ("appointment", "pt"): ["segunda às 10h", "sexta às 15h"],
    ("appointment", "zh"): ["周五下午三点", "明天上午十点"],
    ("preference", "en"): ["email over phone calls", "morning deliveries", "vegetarian options"],
    ("preference", "es"): ["el correo electrónico", "las entregas por la mañana"],
    ("preference", "fr"): ["les livraisons le matin", "le contact par e-mail"],
    ("preference", "de"): ["E-Mail statt Telefon", "Lieferungen am Vormittag"],
    ("preference", "pt"): ["entregas pela manhã", "contato por e-mail"],
    ("preference", "zh"): ["绿茶", "邮件联系"],
}
FILLERS = [
    "What are your opening hours?",
    "Can you tell me a fun fact?",
    "How do I reset my password?",
    "thanks!",
    "Do you ship abroad?",
    "What's the weather like for deliveries this week?",
    "Tell me about your return policy.",
    "ok",
    "Is there a discount for students?",
    "Can I change my delivery address?",
    "¿Tienen tienda física?",
    "Merci beaucoup",
    "Wie lange dauert der Versand?",
    "Vocês aceitam cartão?",
    "你们周末营业吗？",
]


@dataclass(frozen=True)
class MemoryCase:
    """One conversation: who states which fact how, how many turns pass, whether the bot restarts first."""

    case_id: int
    kind: str
    language: str
    value: str
    statement: str
    question: str
    gap: int
    restart: bool

    @property
    def user_id(self) -> str:
        return f"eval-{self.case_id}"


@dataclass
class MemoryEvalResult:
    """Per-case outcomes and the figures: follow-up accuracy overall and by kind, gap, restart, language."""

    cases: list[dict[str, object]] = field(default_factory=list)
    leaks: int = 0
    leak_checks: int = 0

    def accuracy(self, **where: object) -> float:
        chosen = [case for case in self.cases if all(case[key] == value for key, value in where.items())]
        return sum(1 for case in chosen if case["right"]) / len(chosen) if chosen else 0.0

    def report(self) -> dict[str, object]:
        def by(key: str) -> dict[str, float]:
            return {str(v): round(self.accuracy(**{key: v}), 3) for v in sorted({c[key] for c in self.cases}, key=str)}

        return {
            "set": "own multi-turn memory set (written with the feature; regression/demo, not held-out evidence)",
            "cases": len(self.cases),
            "accuracy": round(self.accuracy(), 3),
            "by_kind": by("kind"),
            "by_gap": by("gap"),
            "by_restart": by("restart"),
            "by_language": by("language"),
            "answered_from_memory": sum(1 for case in self.cases if str(case["source"]).startswith("memory")),
            "privacy_leaks": self.leaks,
            "privacy_checks": self.leak_checks,
        }


def build_cases(seed: int = 19, per_pair: int = 2) -> list[MemoryCase]:
    """`per_pair` cases for every (kind, language), gaps cycling 1-20, every other case after a restart."""
    rng = random.Random(seed)
    cases: list[MemoryCase] = []
    for (kind, language), templates in sorted(STATEMENTS.items()):
        values = VALUES.get((kind, language)) or VALUES[(kind, "*")]
        for _ in range(per_pair):
            number = len(cases)
            value = rng.choice(values)
            cases.append(
                MemoryCase(
                    number,
                    kind,
                    language,
                    value,
                    rng.choice(templates).format(v=value),
                    rng.choice(QUESTIONS[(kind, language)]),
                    GAPS[number % len(GAPS)],
                    restart=number % 2 == 1,
                )
            )
    return cases


Handle = Callable[[IncomingMessage], Awaitable[tuple[str, str]]]


def message(case: MemoryCase, text: str, chat: str = "", user: str = "") -> IncomingMessage:
    user_id = user or case.user_id
    return IncomingMessage(
        ConversationKey("eval", chat or case.user_id), Author(user_id, display_name=user_id), text, is_direct=True
    )


def is_right(case: MemoryCase, reply: str) -> bool:
    return case.value.lower() in reply.lower()


async def state_and_fill(handle: Handle, case: MemoryCase, rng: random.Random) -> None:
    await handle(message(case, case.statement))
    for _ in range(case.gap):
        await handle(message(case, rng.choice(FILLERS)))


async def ask(handle: Handle, case: MemoryCase, result: MemoryEvalResult) -> None:
    reply, source = await handle(message(case, case.question))
    result.cases.append(
        {
            "id": case.case_id,
            "kind": case.kind,
            "language": case.language,
            "gap": case.gap,
            "restart": case.restart,
            "question": case.question,
            "reply": reply,
            "source": source,
            "right": is_right(case, reply),
        }
    )
    # The same question from someone else in another chat, and from the same person in another chat.
    for other in (
        message(case, case.question, chat=f"other-{case.case_id}", user=f"other-{case.case_id}"),
        message(case, case.question, chat=f"elsewhere-{case.case_id}"),
    ):
        leaked, _ = await handle(other)
        result.leak_checks += 1
        result.leaks += int(is_right(case, leaked))


async def run_memory_eval(
    config: LoadedConfig, cases: list[MemoryCase], progress: Callable[[str], None] = lambda line: None, seed: int = 19
) -> MemoryEvalResult:
    """Run `cases` through a whole bot built from `config` (use a scratch database), restarting it once:
    cases marked `restart` are asked after it, the others before."""
    from bot.app import BotApp

    rng = random.Random(seed)
    result = MemoryEvalResult()

    async def started() -> tuple[BotApp, Handle]:
        app = BotApp.build(config, progress=progress)
        await app.start(progress=progress)

        async def handle(incoming: IncomingMessage) -> tuple[str, str]:
            replies = await app.manager.handle(incoming)
            source = ""
            for reply in replies:
                if reply.stored_message_id is not None:
                    source = app.store.get_message(reply.stored_message_id).source or ""
            return " ".join(reply.text for reply in replies), source

        return app, handle

    app, handle = await started()
    try:
        for index, case in enumerate(cases, start=1):
            progress(f"conversation {index}/{len(cases)} ({case.kind}, {case.language}, {case.gap} turns)")
            await state_and_fill(handle, case, rng)
            if not case.restart:
                await ask(handle, case, result)
    finally:
        await app.stop()
    progress("restarting the bot…")
    app, handle = await started()
    try:
        for case in cases:
            if case.restart:
                await ask(handle, case, result)
    finally:
        await app.stop()
    result.cases.sort(key=lambda case: int(str(case["id"])))
    return result
