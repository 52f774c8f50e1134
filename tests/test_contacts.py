"""The physical-structure check: pairs closer than any bond they form."""

import pytest
from ase import Atoms

from refgc.contacts import TOO_SHORT, short_contacts


def slab_with(*added):
    """Two Cu 1.8 Å apart (a template pair, too short but not counted) + added atoms, periodic in x."""
    atoms = Atoms("Cu2", positions=[[0.0, 0.0, 0.0], [1.8, 0.0, 0.0]], cell=[10.0, 10.0, 10.0], pbc=[True, True, False])
    for symbol, position in added:
        atoms += Atoms(symbol, positions=[position])
    return atoms


def test_only_pairs_with_an_added_atom_count():
    assert short_contacts(slab_with(), n_template=2) == {}
    assert short_contacts(slab_with(), n_template=0) == {("Cu", "Cu"): pytest.approx(1.8)}


def test_shortest_distance_per_pair_across_periodic_images():
    atoms = slab_with(("O", [0.0, 0.0, 1.5]), ("O", [9.6, 0.0, 1.5]), ("O", [5.0, 5.0, 3.0]))
    found = short_contacts(atoms, n_template=2)
    assert found[("O", "O")] == pytest.approx(0.4)  # through the x boundary
    assert found[("Cu", "O")] == pytest.approx(1.5)
    assert set(found) == {("Cu", "O"), ("O", "O")}
    assert short_contacts(slab_with(("O", [5.0, 5.0, 3.0])), n_template=2) == {}
    assert TOO_SHORT[("Cu", "O")] > 1.5


def test_a_pair_without_a_length_is_named():
    with pytest.raises(ValueError, match="Cu–H"):
        short_contacts(slab_with(("H", [0.0, 0.0, 1.0])), n_template=2, limits=TOO_SHORT)


def test_pairs_the_table_lacks_get_covalent_limits():
    """Cu–H: 0.75 × (1.32 + 0.31) Å = 1.22 Å; an H at 1.0 Å from a Cu is flagged, one at 1.5 Å is not."""
    from refgc.contacts import too_short_distance

    assert too_short_distance("H", "Cu") == pytest.approx(0.75 * (1.32 + 0.31))
    assert too_short_distance("O", "Cu") == TOO_SHORT[("Cu", "O")]
    assert set(short_contacts(slab_with(("H", [0.0, 0.0, 1.0])), n_template=2)) == {("Cu", "H")}
    assert short_contacts(slab_with(("H", [0.0, 0.0, 1.5])), n_template=2) == {}


def test_the_distance_table_is_ordered_and_the_prior_acts_inside_it():
    """Per pair: the prior's radius (default model) < too short < the shortest real bond, and
    new structures for labelling never place atoms closer than a found structure may be."""
    import refgc
    from refgc.contacts import DISTANCES, PLACEMENT, pair_value

    config = refgc.load_model().config
    radii = config.prior_radii()
    for (a, b), d in DISTANCES.items():
        prior = radii[config.species.index(a), config.species.index(b)]
        assert prior < d.too_short < d.bond
        assert d.placement >= d.too_short
        assert pair_value(PLACEMENT, b, a) == d.placement


def _surface():
    """A 3×3 Cu layer, 2.6 Å apart, at z = 10 Å, periodic in x and y."""
    a = 2.6
    return Atoms("Cu9", positions=[[i * a, j * a, 10.0] for i in range(3) for j in range(3)],
                 cell=[3 * a, 3 * a, 20.0], pbc=[True, True, False])


def test_detached_finds_what_floats_and_keeps_what_a_chain_of_bonds_holds():
    from refgc.contacts import check, detached

    slab = _surface()
    ring = Atoms("O3", positions=[[1.0, 1.0, 16.0], [2.175, 1.0, 16.0], [1.5875, 2.02, 16.0]])  # 1.175 Å sides
    assert detached(slab + ring, 9) == [9, 10, 11]
    assert check(slab + ring, 9) == ["3 atoms detached (O3)"]
    held = slab + Atoms("OCuO", positions=[[1.3, 1.3, 11.2], [0.0, 0.0, 12.5], [0.0, 0.0, 14.3]])  # O on Cu on Cu
    assert detached(held, 9) == [] and check(held, 9) == []
    across = slab + Atoms("O", positions=[[7.7, 0.1, 11.5]])  # bonded to the Cu at x = 0 through the boundary
    assert detached(across, 9) == []
    assert detached(slab, 9) == []
    pair = slab + Atoms("OO", positions=[[1.3, 1.3, 11.2], [1.3, 1.3 + 0.94, 11.2]])  # the O–O hole at 0.94 Å
    assert check(pair, 9) == ["O–O 0.94 Å"]
