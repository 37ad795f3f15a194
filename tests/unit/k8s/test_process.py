"""The process: one typed memo for the operator and the webhook, shared by kopf's per-object copies;
leader election chosen from the settings before kopf starts."""

from __future__ import annotations

import copy

import pytest

from cloudcostguard import errors
from cloudcostguard.k8s import process
from cloudcostguard.k8s.admission.memo import AdmissionMemo
from cloudcostguard.k8s.operator import leadership
from cloudcostguard.k8s.operator.memo import OperatorMemo
from cloudcostguard.settings import Settings


def test_leader_election_is_on_unless_standalone() -> None:
    elected = process.make_memo(Settings()).leadership
    assert isinstance(elected, leadership.LeaderElector)
    assert elected.timings == leadership.LeaseTimings(15, 10.0, 2.0)  # client-go's defaults
    assert not elected.is_leader()  # not before it won the Lease
    assert isinstance(process.make_memo(Settings(leader_election=False)).leadership, leadership.Standalone)


def test_inconsistent_lease_timings_fail_before_kopf_starts() -> None:
    with pytest.raises(errors.ConfigurationError, match="CCG_LEADER_ELECTION_RENEW_DEADLINE: 15 s must be"):
        process.make_memo(Settings(leader_election_renew_deadline=15))
    # Standalone has no Lease: its timings do not matter.
    process.make_memo(Settings(leader_election=False, leader_election_renew_deadline=15))


def test_the_memo_is_the_operators_and_the_webhooks() -> None:
    memo = process.make_memo(Settings(leader_election=False))
    assert isinstance(memo, OperatorMemo) and isinstance(memo, AdmissionMemo)
    assert memo.admission is None and memo.webhook_cert_dir is None  # set at startup
    assert (memo.process.started, memo.process.indexed) == (False, False)
    assert memo.catalog_provider is memo.reconcile_context.catalog_provider


def test_kopfs_per_object_copies_share_the_objects_of_the_memo() -> None:
    memo = process.make_memo(Settings(leader_election=False))
    copied = copy.copy(memo)  # what kopf does for every object it handles
    assert copied is not memo and isinstance(copied, process.ProcessMemo)
    assert copied.reconciler is memo.reconciler and copied.cluster is memo.cluster
    copied.process.indexed = True  # what the namespace watcher does on a copy
    assert memo.process.indexed
    assert copied.policy_versions is memo.policy_versions


def test_a_misspelt_memo_attribute_is_an_error_not_a_missing_key() -> None:
    memo = process.make_memo(Settings(leader_election=False))
    with pytest.raises(AttributeError, match="ProcessMemo has no attribute 'reconciller'"):
        _ = memo.reconciller
