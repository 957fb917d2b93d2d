"""Rollout waves are cut as Ansible's serial cuts batches, and the report names each wave."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.certmesh.istio.plugins.module_utils import rollout

HOSTS = ["c%02d" % number for number in range(1, 11)]


@pytest.mark.parametrize("sizes, expected", [
    ([1, "100%"], [1, 9]),
    ([1, 5, "25%"], [1, 5, 2, 2]),
    ([1], [1] * 10),
    (["10%"], [1] * 10),
    (["5%", "50%"], [1, 5, 4]),
    ([3], [3, 3, 3, 1]),
])
def test_waves_have_the_sizes_ansible_serial_gives_the_batches(sizes, expected):
    waves = rollout.waves(HOSTS, sizes)

    assert [len(wave) for wave in waves] == expected
    assert sum(waves, []) == HOSTS


def test_a_converged_rollout_names_every_wave_done():
    report = rollout.report("prod", HOSTS[:3], HOSTS[:3], [], [1, "100%"])

    assert report["waves"] == [{"wave": 1, "clusters": ["c01"], "state": "done"},
                               {"wave": 2, "clusters": ["c02", "c03"], "state": "done"}]
    assert (report["failed"], report["interrupted"], report["untouched"]) == ([], [], [])
    assert report["summary"] == "wave 1 (c01): done; wave 2 (c02, c03): done"


def test_a_failure_in_a_wave_leaves_its_unfinished_clusters_interrupted_and_later_waves_untouched():
    report = rollout.report("prod", HOSTS[:6], ["c01", "c03"], ["c02"], [1, 3], failed_task=" Apply \n")

    assert report["done"] == ["c01", "c03"]
    assert report["failed"] == ["c02"]
    assert report["interrupted"] == ["c04"]
    assert report["untouched"] == ["c05", "c06"]
    assert [wave["state"] for wave in report["waves"]] == ["done", "failed", "untouched"]
    assert report["failed_task"] == "Apply"


def test_one_cluster_at_a_time_reports_the_clusters_after_the_failure_untouched():
    report = rollout.report("test", ["east", "west", "north"], ["east"], ["west"], [1])

    assert (report["done"], report["failed"], report["interrupted"], report["untouched"]) == (
        ["east"], ["west"], [], ["north"])
