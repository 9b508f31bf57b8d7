"""Grad mode and the trace recorder belong to each thread: concurrent trainings (eager and E.compile), with another
thread running inference under no_grad, end with exactly the parameters of the same trainings run one after another."""
import threading

import numpy as np

import engine as E
import ops
from engine import nn
from engine.functional import cross_entropy

TRAININGS = 4
STEPS = 12


def _model(seed):
    E.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(3 * 3 * 3, 4))


def _batches(seed):
    """Batches of 5 to 7 images (every compiled step traces three signatures, again and again beyond max_plans)."""
    data = np.random.default_rng(100 + seed)
    return [(E.tensor(data.standard_normal((n, 1, 6, 6))), E.tensor(data.integers(0, 4, n)))
            for n in (5 + i % 3 for i in range(STEPS))]


def _training(seed, compiled):
    """A training's model and its arguments to _train, made in the caller's thread: the seed is process-wide."""
    model = _model(seed).to(np.float64)
    return model, compiled, _batches(seed)


def _train(model, compiled, batches, ready=None):
    """The final state_dict of STEPS float64 SGD steps; one kernel thread, so sums run in one order in every run."""
    opt = E.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    step = E.compile(lambda x, y: cross_entropy(model(x), y), max_plans=2) if compiled else None
    previous_threads = ops.get_num_threads()
    ops.set_num_threads(1)
    try:
        if ready is not None:
            ready.wait()
        for x, y in batches:
            opt.zero_grad()
            if compiled:
                step(x, y)
            else:
                cross_entropy(model(x), y).backward()
            opt.step()
    finally:
        ops.set_num_threads(previous_threads)
    return model.state_dict()


def _infer_until(model, x, stop, ready):
    ready.wait()
    while not stop.is_set():
        with E.no_grad():
            assert not model(x).requires_grad


def _run_concurrently(compiled):
    """The trainings' final states, each training in its own thread alongside a no_grad inference thread."""
    states, errors = [None] * TRAININGS, []
    ready, stop = threading.Barrier(TRAININGS + 1), threading.Event()

    def guarded(fn, *args):
        try:
            fn(*args)
        except BaseException as error:  # re-raised in the test's thread
            errors.append(error)
            ready.abort()

    def train(i, training):
        states[i] = _train(*training, ready)

    trainings = [_training(i, compiled) for i in range(TRAININGS)]
    threads = [threading.Thread(target=guarded, args=(train, i, training)) for i, training in enumerate(trainings)]
    inference_args = (_model(99).to(np.float64).eval(),
                      E.tensor(np.random.default_rng(7).standard_normal((2, 1, 6, 6))))
    inference = threading.Thread(target=guarded, args=(_infer_until, *inference_args, stop, ready))
    for t in threads + [inference]:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    inference.join()
    if errors:
        raise errors[0]
    return states


def _assert_same_states(states, expected):
    for state, reference in zip(states, expected):
        assert state.keys() == reference.keys()
        for name in reference:
            np.testing.assert_array_equal(state[name], reference[name], err_msg=name)


def test_concurrent_eager_trainings_match_sequential():
    sequential = [_train(*_training(i, compiled=False)) for i in range(TRAININGS)]
    _assert_same_states(_run_concurrently(compiled=False), sequential)


def test_concurrent_compiled_trainings_match_sequential():
    sequential = [_train(*_training(i, compiled=True)) for i in range(TRAININGS)]
    _assert_same_states(_run_concurrently(compiled=True), sequential)


def _in_thread(fn):
    result = []
    thread = threading.Thread(target=lambda: result.append(fn()))
    thread.start()
    thread.join()
    return result[0]


def test_a_new_thread_starts_with_grad_enabled_and_no_recorder():
    with E.no_grad():
        assert not E.is_grad_enabled()
        assert _in_thread(E.is_grad_enabled)
    records = []
    x = E.tensor([1.0, 2.0], requires_grad=True)
    with E.graph.recording(lambda fn, args, out: records.append(fn)):
        y = _in_thread(lambda: x * 2)
    assert y.requires_grad and records == []


def test_no_grad_in_one_thread_leaves_another_alone():
    entered, release = threading.Event(), threading.Event()

    def hold_no_grad():
        with E.no_grad():
            entered.set()
            release.wait()

    thread = threading.Thread(target=hold_no_grad)
    thread.start()
    entered.wait()
    try:
        x = E.tensor([1.0, 2.0], requires_grad=True)
        assert E.is_grad_enabled() and (x * x).sum().requires_grad
    finally:
        release.set()
        thread.join()


def test_one_no_grad_decorated_function_entered_by_two_threads():
    """Each thread gets back its own mode, whatever order the two leave the shared decorator in."""
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    after = {}

    @E.no_grad()
    def inside(name):
        if name == "first":
            first_in.set()
            second_in.wait()
        else:
            second_in.set()
            first_out.wait()  # the first thread leaves while this one is still inside

    def first():
        inside("first")
        after["first"] = E.is_grad_enabled()
        first_out.set()

    def second():
        with E.no_grad():  # this thread enters with grad mode off, and must find it off again afterwards
            first_in.wait()
            inside("second")
            after["second"] = E.is_grad_enabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert after == {"first": True, "second": False}
