"""Z-score normalization: population std, constant columns, the user notice."""

import numpy as np
import pytest

from fitscope.engine.normalize import Standardizer

X = np.array([[1.0, 10.0, 5.0], [2.0, 20.0, 5.0], [3.0, 60.0, 5.0], [6.0, 30.0, 5.0]])


def test_mean_and_population_std_by_hand():
    s = Standardizer.fit(X)
    np.testing.assert_allclose(s.mean, [3.0, 30.0, 5.0])
    # ddof 0: column 0 has deviations −2, −1, 0, 3 → variance 14/4 (ddof 1 would give 14/3)
    np.testing.assert_allclose(s.std[0], np.sqrt(14 / 4))
    np.testing.assert_allclose(s.std[1], np.sqrt((400 + 100 + 900 + 0) / 4))


def test_transformed_training_data_has_mean_0_and_std_1():
    Z = Standardizer.fit(X[:, :2]).transform(X[:, :2])
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-15)
    np.testing.assert_allclose(Z.std(axis=0), 1.0)


def test_constant_column_is_centred_not_divided():
    s = Standardizer.fit(X)
    assert s.constant == (2,)
    assert s.std[2] == 1.0
    Z = s.transform(X)
    np.testing.assert_array_equal(Z[:, 2], 0.0)
    assert np.isfinite(Z).all()
    # a test row with another value in the constant column: shifted by the training mean only
    assert s.transform(np.array([[3.0, 30.0, 7.5]]))[0, 2] == 2.5


def test_test_data_is_scaled_with_the_training_statistics():
    s = Standardizer.fit(X)
    X_test = np.array([[0.0, 0.0, 0.0], [9.0, 30.0, 5.0]])
    expected = (X_test - X.mean(axis=0)) / np.where(X.std(axis=0) == 0, 1.0, X.std(axis=0))
    np.testing.assert_allclose(s.transform(X_test), expected)


def test_transform_returns_a_new_array():
    Xc = X.copy()
    Z = Standardizer.fit(Xc).transform(Xc)
    assert Z is not Xc
    np.testing.assert_array_equal(Xc, X)


def test_notice_names_the_constant_column():
    s = Standardizer.fit(X)
    notice = s.describe_constant(["crim", "zn", "chas"])
    assert "chas" in notice
    assert "crim" not in notice and "zn" not in notice  # only the constant one is named
    assert "centred" in notice and "not divided" in notice


def test_notice_names_every_constant_column():
    Xc = np.column_stack([np.ones(4), np.arange(4.0), np.full(4, -2.0)])
    s = Standardizer.fit(Xc)
    assert s.constant == (0, 2)
    notice = s.describe_constant(["one", "ramp", "minus_two"])
    assert "one" in notice and "minus_two" in notice and "ramp" not in notice


def test_no_notice_without_constant_columns():
    s = Standardizer.fit(X[:, :2])
    assert s.constant == ()
    assert s.describe_constant(["a", "b"]) == ""


def test_fit_is_frozen():
    s = Standardizer.fit(X)
    with pytest.raises(AttributeError):
        s.mean = np.zeros(3)


def test_constant_column_of_an_inexact_value_is_found():
    # The mean of 333 copies of 0.1 is not exactly 0.1, so its computed std is about 1e-17, not 0.
    Xc = np.column_stack([np.full(333, 0.1), np.arange(333.0)])
    assert Xc[:, 0].std() != 0  # the premise: the naive test (std == 0) misses this column
    s = Standardizer.fit(Xc)
    assert s.constant == (0,)
    np.testing.assert_array_equal(s.transform(Xc)[:, 0], 0.0)
