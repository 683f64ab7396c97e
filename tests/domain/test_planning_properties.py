"""Properties of plan choice that must hold for any set of quotes."""

from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from tradelane.enums import Mode, Preference
from tradelane.planning import choose_plan, pareto_set
from tradelane.state import Quote

quotes = st.lists(
    st.builds(
        lambda amount, days, co2e, mode: (amount, days, co2e, mode),
        st.decimals(min_value=1, max_value=10_000, places=2),
        st.integers(min_value=1, max_value=60),
        st.floats(min_value=0, max_value=5_000, allow_nan=False),
        st.sampled_from(list(Mode)),
    ),
    min_size=1, max_size=8,
).map(lambda rows: [
    Quote(quote_id=f"q{i}", partner=f"p{i}", mode=mode, amount=Decimal(amount), currency="USD",
          transit_days_min=days, transit_days_max=days, chargeable_weight_kg=1, co2e_kg=co2e)
    for i, (amount, days, co2e, mode) in enumerate(rows)
])


@given(quotes, st.sampled_from(list(Preference)), st.randoms(use_true_random=False))
def test_choice_does_not_depend_on_quote_order(qs, preference, rnd):
    shuffled = list(qs)
    rnd.shuffle(shuffled)
    assert choose_plan(qs, preference).partner == choose_plan(shuffled, preference).partner


def _quote(i: int, amount: str, days: int) -> Quote:
    return Quote(quote_id=f"q{i}", partner=f"p{i}", mode=Mode.OCEAN, amount=Decimal(amount), currency="USD",
                 transit_days_min=days, transit_days_max=days, chargeable_weight_kg=1, co2e_kg=0)


@given(quotes)
# Found by hypothesis: a one-cent dearer but much faster quote once won "cheapest" through a weighted tie-break.
@example([_quote(0, "4.60", 60), _quote(1, "4.61", 1)])
def test_cheapest_and_fastest_pick_the_minimum(qs):
    assert choose_plan(qs, Preference.CHEAPEST).quote.amount == min(q.amount for q in qs)
    assert choose_plan(qs, Preference.FASTEST).quote.transit_days_max == min(q.transit_days_max for q in qs)


@given(quotes)
def test_pareto_set_is_never_empty_and_alternatives_come_from_it(qs):
    front = pareto_set(qs)
    assert front
    plan = choose_plan(qs, Preference.BALANCED)
    assert all(alt in front for alt in plan.alternatives)
    assert plan.quote not in plan.alternatives
