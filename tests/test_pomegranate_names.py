"""pomegranate's names (issue 11): from_samples, freeze / thaw, parameters, to_json / from_json."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cases import CASES, IDS, flat_params
from mixture_helpers import blobs, initial_gmm, params

import suffstat as ss


# IndependentComponents has no default columns: its from_samples needs them as kwargs
SIMPLE = [c for c in CASES if not isinstance(c.unfitted(), ss.IndependentComponents)]


@pytest.mark.parametrize("case", SIMPLE, ids=[c.id for c in SIMPLE])
def test_from_samples_is_fit_on_a_new_instance(case):
    X = case.draw(np.random.default_rng(3), 400)
    template = case.unfitted()
    cls = type(template)
    got = cls.from_samples(X, **template.to_dict()["options"])
    np.testing.assert_array_equal(flat_params(got), flat_params(case.unfitted().fit(X)))


def test_from_samples_passes_options_and_weights():
    X = np.random.default_rng(0).normal(size=(300, 2))
    w = np.linspace(0.5, 2.0, 300)
    d = ss.MultivariateNormal.from_samples(X, w, covariance_type="diag")
    ref = ss.MultivariateNormal(covariance_type="diag").fit(X, w)
    assert d.covariance_type == "diag"
    np.testing.assert_array_equal(d.cov, ref.cov)


def test_freeze_and_thaw():
    d = ss.Normal(0.0, 1.0)
    assert d.freeze() is d and d.frozen
    d.fit([5.0, 6.0, 7.0])
    assert (d.mean, d.std) == (0.0, 1.0)
    assert d.thaw() is d and not d.frozen
    d.fit([5.0, 6.0, 7.0])
    assert d.mean == pytest.approx(6.0)


def test_parameters_is_a_read_only_view():
    m = initial_gmm()
    p = m.parameters
    assert set(p) == {"weights", "distributions"}
    with pytest.raises(ValueError, match="read-only"):
        p["weights"][0] = 1.0
    with pytest.raises(TypeError):
        p["weights"] = np.ones(3)  # type: ignore[index]
    with pytest.raises(ValueError, match="read-only"):
        p["distributions"][0]["mean"][0] = 9.0
    np.testing.assert_array_equal(p["distributions"][1]["cov"], m.distributions[1].cov)
    assert m.weights.flags.writeable  # the model's own arrays are untouched


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_json_round_trip_is_exact(case):
    d = case.make()
    text = d.to_json()
    assert "__ndarray__" in text or not any(isinstance(v, np.ndarray) for v in d._get_params().values())
    back = ss.Distribution.from_json(text)
    assert type(back) is type(d)
    np.testing.assert_array_equal(flat_params(back), flat_params(d))
    assert back.to_dict().keys() == d.to_dict().keys()


def test_json_round_trip_of_a_fitted_mixture_is_exact():
    m = initial_gmm().fit(blobs(1000), max_iter=5, tol=None)
    back = ss.GeneralMixtureModel.from_json(m.to_json())
    np.testing.assert_array_equal(params(back), params(m))
    X = blobs(50, seed=1)
    np.testing.assert_array_equal(back.log_probability(X), m.log_probability(X))


@pytest.mark.parametrize("text, message", [
    ("{not json", "not JSON"),
    ('{"class": "os.system", "params": {}}', "unknown model class"),
    ('[1, 2]', "does not describe a model"),
    (json.dumps({"class": "Normal", "params": {"mean": {"__ndarray__": ["x"], "dtype": "|O"}}}),
     "unsupported array dtype"),
    ("[" * 100 + "]" * 100, "nests"),
])
def test_from_json_refuses_what_is_not_a_model(text, message):
    with pytest.raises(ValueError, match=message):
        ss.Distribution.from_json(text)


def test_mixture_from_samples_with_an_independent_components_template():
    """Issue 12: from_samples(IndependentComponents([...]), ...) raised a bare TypeError."""
    rng = np.random.default_rng(0)
    X = np.column_stack([np.concatenate([rng.normal(-3, 1, 400), rng.normal(3, 1, 400)]),
                         np.concatenate([rng.poisson(1, 400), rng.poisson(9, 400)])])
    template = ss.IndependentComponents([ss.Normal(), ss.Poisson()])
    m = ss.GeneralMixtureModel.from_samples(template, 2, X, random_state=0, max_iter=50)
    means = sorted(d.distributions[0].mean for d in m.distributions)
    rates = sorted(d.distributions[1].rate for d in m.distributions)
    assert means == pytest.approx([-3, 3], abs=0.3) and rates == pytest.approx([1, 9], abs=0.5)
    assert template.distributions[0].mean is None  # the template is not fitted
