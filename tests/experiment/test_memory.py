"""An experiment's memory does not grow with its finished batches (issue: each batch froze
the earlier batches' garbage, 54 MB per 1,000 calls)."""

import gc
import weakref

import agentlab as al
from agentlab.runtime import conversation


def test_finished_calls_garbage_is_freed_during_the_run(monkeypatch):
    alive = []
    real = conversation.Conversation.__post_init__

    def track(self):
        real(self)
        alive.append(weakref.ref(self))

    monkeypatch.setattr(conversation.Conversation, "__post_init__", track)

    def baseline(runner):
        pass

    gc.collect()
    rec = al.Experiment(configs=[baseline], scenarios="scenarios", repeats=4,
                        batch_size=7).run()
    assert len(rec.sessions) == len(alive) == 4 * len(al.datasets.load("scenarios"))
    # without a collection of our own: the earlier batches' calls were freed as the run
    # went on; only the last batch's (its result held them until the run returned) wait
    assert sum(r() is not None for r in alive) <= 7
    assert gc.get_freeze_count() == 0
