"""The action a question asks for, and whether a passage speaks of it (bot.kb.actions)."""

from __future__ import annotations

from bot.kb.actions import asked_actions, missing_actions

LIMIT = "Credit limit: Your credit limit is shown in the app under Card details."
RAISE = "Credit limit: You can ask for a higher limit in the app; we reply within two days."


def test_any_inflection_of_a_listed_verb_is_an_asked_action() -> None:
    assert asked_actions("How do I change my PIN?") == {"change"}
    assert asked_actions("I'm cancelling my order, and changed my address") == {"cancel", "change", "order"}
    assert asked_actions("What is my credit limit?") == set()


def test_a_passage_that_never_speaks_of_the_asked_action_misses_it() -> None:
    assert missing_actions("How can I increase my credit limit?", LIMIT) == {"increase"}
    assert missing_actions("What is my credit limit?", LIMIT) == set()


def test_a_passage_may_speak_of_an_action_in_another_form_or_a_synonym() -> None:
    assert missing_actions("Can I raise my limit?", RAISE) == set()
    assert missing_actions("how do i increase my limit", RAISE) == set()
    assert missing_actions("Can you cancel my order?", "Orders: cancellations are free until we ship.") == set()


def test_close_customer_service_verbs_count_as_speaking_of_the_action() -> None:
    freeze = "Freezing an account: You can freeze your account straight away in the app."
    assert missing_actions("I want my account blocked immediately", freeze) == set()
    assert missing_actions("Please stop my account", freeze) == set()
    assert missing_actions("Why was my top-up cancelled?", "A top-up is reverted when your bank refuses it.") == set()
    assert missing_actions("How can I increase my credit limit?", freeze) == {"increase"}


def test_an_update_on_something_asks_no_action_but_a_transfer_still_names_one() -> None:
    assert asked_actions("Can I get an update on my application?") == set()
    assert asked_actions("Update my address") == {"update"}
    assert asked_actions("Why was I charged a fee for a transfer?") == {"transfer"}
