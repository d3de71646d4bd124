from __future__ import annotations

from generator.webhook.replay import ReplayGuard


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_second_claim_of_an_id_is_seen_until_it_expires() -> None:
    clock = Clock()
    guard = ReplayGuard(ttl=600, clock=clock)

    assert guard.claim("a") == "new"
    clock.now = 599
    assert guard.claim("a") == "seen"
    clock.now = 600
    assert guard.claim("a") == "new"


def test_released_id_can_be_claimed_again() -> None:
    guard = ReplayGuard(ttl=600, clock=Clock())
    guard.claim("a")

    guard.release("a")

    assert guard.claim("a") == "new"


def test_full_memory_refuses_new_ids_rather_than_forgetting_live_ones() -> None:
    clock = Clock()
    guard = ReplayGuard(ttl=10, capacity=2, clock=clock)
    guard.claim("a")
    clock.now = 1
    guard.claim("b")

    assert guard.claim("c") == "full"
    assert guard.claim("a") == "seen"
    clock.now = 10  # "a" expires, making room
    assert guard.claim("c") == "new"
    assert guard.claim("b") == "seen"
