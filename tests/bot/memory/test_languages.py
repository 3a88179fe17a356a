"""Facts and follow-ups in nl, ru, ja, ko, ar, hi, tr and pl, broader follow-up forms, and looser statements.

Items written for this file (no evaluation set's wording): each states a fact the way a person might, and asks
it back in a phrasing the fixed question list does not hold word for word.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.memory.extraction import (
    ALLERGY,
    APPOINTMENT,
    EMAIL,
    NAME,
    ORDER_NUMBER,
    PHONE,
    Fact,
    extract_facts,
)
from bot.memory.recall import memory_question
from tests.bot.memory.test_feature import say, started

STATEMENTS = [
    ("Ik heet Sanne.", NAME, "Sanne", "nl"),
    ("Mijn bestelnummer is 55120.", ORDER_NUMBER, "55120", "nl"),
    ("Mijn e-mailadres is sanne.v@voorbeeld.nl", EMAIL, "sanne.v@voorbeeld.nl", "nl"),
    ("Ik ben allergisch voor pinda's", ALLERGY, "pinda's", "nl"),
    ("Меня зовут Олег.", NAME, "Олег", "ru"),
    ("Номер моего заказа 77410", ORDER_NUMBER, "77410", "ru"),
    ("Мой телефон +7 915 123-45-67", PHONE, "+7 915 123-45-67", "ru"),
    ("У меня аллергия на орехи", ALLERGY, "орехи", "ru"),
    ("私の名前は田中です。", NAME, "田中", "ja"),
    ("注文番号は 48213 です", ORDER_NUMBER, "48213", "ja"),
    ("予約は5月14日です", APPOINTMENT, "5月14日", "ja"),
    ("제 이름은 민수예요", NAME, "민수", "ko"),
    ("주문 번호는 90311", ORDER_NUMBER, "90311", "ko"),
    ("이메일은 minsu@example.kr", EMAIL, "minsu@example.kr", "ko"),
    ("اسمي سارة", NAME, "سارة", "ar"),
    ("رقم طلبي 66120", ORDER_NUMBER, "66120", "ar"),
    ("मेरा नाम राज है", NAME, "राज", "hi"),
    ("मेरा फोन नंबर 98765 43210 है", PHONE, "98765 43210", "hi"),
    ("मुझे मूंगफली से एलर्जी है", ALLERGY, "मूंगफली", "hi"),
    ("Benim adım Ayşe", NAME, "Ayşe", "tr"),
    ("Sipariş numaram 33019", ORDER_NUMBER, "33019", "tr"),
    ("Randevum 14 Mayıs", APPOINTMENT, "14 Mayıs", "tr"),
    ("Nazywam się Ola", NAME, "Ola", "pl"),
    ("Mój e-mail to ola.k@przyklad.pl", EMAIL, "ola.k@przyklad.pl", "pl"),
    ("Jestem uczulona na orzechy", ALLERGY, "orzechy", "pl"),
    # looser English forms
    ("order 88231 hasn't arrived yet", ORDER_NUMBER, "88231", "en"),
    ("It's for the 14th of May", APPOINTMENT, "14th of May", "en"),
    ("booking ref is AB12CD", ORDER_NUMBER, "AB12CD", "en"),
]


@pytest.mark.parametrize(("text", "kind", "value", "language"), STATEMENTS)
def test_a_fact_stated_in_each_language_is_kept_with_its_value(text: str, kind: str, value: str, language: str) -> None:
    assert Fact(kind, value, language) in extract_facts(text)


@pytest.mark.parametrize(
    "text",
    ["I'd like to order 100 pizzas", "It's for 2 people", "It's for my son", "order a taxi for 3", "Ik heet je welkom"],
)
def test_loose_forms_keep_nothing_without_a_real_value(text: str) -> None:
    assert [fact for fact in extract_facts(text) if fact.kind in (ORDER_NUMBER, APPOINTMENT, NAME)] == []


FOLLOW_UPS = [
    ("Weet je nog hoe ik heet?", NAME),
    ("Wat was mijn bestelnummer?", ORDER_NUMBER),
    ("Как меня зовут?", NAME),
    ("Какой у меня номер заказа?", ORDER_NUMBER),
    ("Напомни мой телефон", PHONE),
    ("私の名前は何でしたっけ？", NAME),
    ("注文番号を覚えていますか？", ORDER_NUMBER),
    ("제 이름이 뭐였죠?", NAME),
    ("제 이메일 주소가 뭐예요?", EMAIL),
    ("ما اسمي؟", NAME),
    ("هل تتذكر رقم طلبي؟", ORDER_NUMBER),
    ("मेरा नाम क्या है?", NAME),
    ("मुझे किस चीज़ से एलर्जी है, याद है?", ALLERGY),
    ("Adım neydi?", NAME),
    ("Randevum ne zamandı?", APPOINTMENT),
    ("Jak mam na imię?", NAME),
    ("Pamiętasz numer mojego zamówienia?", ORDER_NUMBER),
    # broader forms in the first languages
    ("which order was I asking about?", ORDER_NUMBER),
    ("what number did I give you?", ORDER_NUMBER),
    ("what email did I give you?", EMAIL),
    ("what was my name again?", NAME),
    ("what was the date again?", APPOINTMENT),
    ("Hoe heette ik ook alweer?", NAME),
    ("Telefon numaramı hatırlıyor musun?", PHONE),
    ("Какая у меня была аллергия?", ALLERGY),
    ("remind me what my phone number was", PHONE),
    ("what did I say I'm allergic to?", ALLERGY),
    ("A que eu disse que sou alérgica?", ALLERGY),
    ("Per che data ho prenotato?", APPOINTMENT),
    ("¿Para qué fecha reservé?", APPOINTMENT),
    ("Für welchen Tag habe ich gebucht?", APPOINTMENT),
]


@pytest.mark.parametrize(("text", "kind"), FOLLOW_UPS)
def test_a_follow_up_is_recognised_as_asking_for_its_fact(text: str, kind: str) -> None:
    question = memory_question(text)
    assert question is not None and question.kind == kind


@pytest.mark.parametrize(
    "text",
    [
        "what did I do with my phone",
        "Wat is het weer morgen?",
        "Как отменить заказ?",
        "Siparişimi iptal etmek istiyorum",
        "Gdzie jest moje zamówienie?",
        "What did I say? Sorry, I lost track",
    ],
)
def test_ordinary_questions_are_not_memory_follow_ups(text: str) -> None:
    question = memory_question(text)
    assert question is None or question.kind == "last_said"


END_TO_END = [
    ("Ik heet Sanne.", "Weet je nog hoe ik heet?", "Sanne"),
    ("Меня зовут Олег.", "Как меня зовут?", "Олег"),
    ("私の名前は田中です。", "私の名前は何でしたっけ？", "田中"),
    ("Sipariş numaram 33019", "Sipariş numaram neydi?", "33019"),
    ("Jestem uczulona na orzechy", "Na co jestem uczulona?", "orzechy"),
    ("order 88231 hasn't arrived", "which order was I asking about?", "88231"),
    ("My email is kim@example.org and my address is 4 Elm Road", "what email did I give you?", "kim@example.org"),
]


@pytest.mark.parametrize(("statement", "follow_up", "value"), END_TO_END)
async def test_a_fact_said_to_the_bot_answers_its_follow_up(
    tmp_path: Path, statement: str, follow_up: str, value: str
) -> None:
    app = await started(tmp_path)
    try:
        await say(app, statement)
        await say(app, "tell me something nice")
        assert value in await say(app, follow_up)
    finally:
        await app.stop()
