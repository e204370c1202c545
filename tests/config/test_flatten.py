from cfgtrack.config.flatten import flatten, top_level


def test_nested_mappings_become_dotted_paths():
    assert flatten({"model": {"optimizer": {"lr": 0.1, "name": "adam"}}, "seed": 1}) == {
        "model.optimizer.lr": 0.1,
        "model.optimizer.name": "adam",
        "seed": 1,
    }


def test_scalar_list_is_one_leaf_and_keeps_order():
    assert flatten({"features": ["b", "a", 3]}) == {"features": ["b", "a", 3]}


def test_list_of_mappings_gets_index_segments():
    tree = {"callbacks": [{"monitor": "loss"}, {"monitor": "acc", "modes": ["min"]}]}
    assert flatten(tree) == {
        "callbacks.0.monitor": "loss",
        "callbacks.1.monitor": "acc",
        "callbacks.1.modes": ["min"],
    }


def test_nested_lists_get_index_segments():
    assert flatten({"grid": [[1, 2], [3]]}) == {"grid.0": [1, 2], "grid.1": [3]}


def test_empty_containers_stay_leaves():
    assert flatten({"a": {}, "b": [], "c": None}) == {"a": {}, "b": [], "c": None}


def test_drop_leaves_out_top_level_keys():
    assert flatten({"hydra": {"run": {"dir": "x"}}, "lr": 1}, drop=("hydra",)) == {"lr": 1}


def test_top_level():
    assert top_level("model.optimizer.lr") == "model"
    assert top_level("seed") == "seed"
