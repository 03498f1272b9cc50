from watchd.config import load_config


def test_two_folders_with_the_same_path_are_refused(cfg):
    drop = cfg.drop("a")
    cfg.write_main(
        f"folders:\n  - {{name: one, path: {drop}, project_id: 1}}\n"
        f"  - {{name: two, path: {drop}/, project_id: 2}}\n"
    )
    (problem,) = cfg.problems()
    assert problem.startswith(f"{cfg.main}:8: folders[1].path: same path as drop folder 'one'")


def test_a_folder_inside_a_recursive_folder_is_refused(cfg):
    outer, inner = cfg.drop("a"), cfg.drop("a/sub")
    cfg.write_main(f"folders:\n  - {{path: {outer}, project_id: 1}}\n")
    cfg.write_folder("inner.yaml", f"path: {inner}\nproject_id: 2\n")
    (problem,) = cfg.problems()
    assert problem.startswith(f"{cfg.folders_d / 'inner.yaml'}:1: path: inside drop folder 'a'")
    assert "exclude: ['sub/*']" in problem


def test_a_nested_folder_is_fine_when_the_outer_one_does_not_see_it(cfg):
    outer, inner, other = cfg.drop("a"), cfg.drop("a/sub"), cfg.drop("b")
    cfg.write_main(
        f"folders:\n  - {{path: {outer}, project_id: 1, exclude: ['sub/*']}}\n"
        f"  - {{path: {inner}, project_id: 2}}\n"
        f"  - {{path: {other}, project_id: 3, recursive: false}}\n"
        f"  - {{path: {other}/deeper, project_id: 4}}\n"
    )
    assert len(load_config(cfg.main).folders) == 4


def test_a_symlinked_alias_of_a_drop_folder_is_caught(cfg):
    real = cfg.drop("real")
    alias = cfg.root / "alias"
    alias.symlink_to(real)
    cfg.write_main(
        f"folders:\n  - {{path: {real}, project_id: 1}}\n  - {{path: {alias}, project_id: 2}}\n"
    )
    (problem,) = cfg.problems()
    assert "folders[1].path: same path as drop folder 'real'" in problem


def test_an_archive_inside_its_drop_folder_is_refused_unless_excluded(cfg):
    drop = cfg.drop("a")
    cfg.write_main(
        f"folders:\n  - {{path: {drop}, project_id: 1, after_upload: {{move_to: {drop}/done}}}}\n"
    )
    (problem,) = cfg.problems()
    assert f"folders[0].after_upload.move_to: archive folder {drop}/done is inside its own " in (
        problem
    )
    assert "add exclude: ['done/*']" in problem

    cfg.write_main(
        f"folders:\n  - {{path: {drop}, project_id: 1, exclude: ['done/*'],"
        f" after_upload: {{move_to: {drop}/done}}}}\n"
    )
    assert load_config(cfg.main).folders[0].archive == drop / "done"


def test_a_hidden_archive_inside_the_drop_folder_is_never_seen(cfg):
    drop = cfg.drop("a")
    cfg.write_main(
        f"folders:\n  - {{path: {drop}, project_id: 1, after_upload: {{move_to: {drop}/.done}}}}\n"
    )
    assert load_config(cfg.main).folders[0].archive == drop / ".done"


def test_an_archive_inside_another_drop_folder_is_refused(cfg):
    a, b = cfg.drop("a"), cfg.drop("b")
    cfg.write_main(
        f"folders:\n  - {{path: {a}, project_id: 1, after_upload: {{move_to: {b}/from-a}}}}\n"
        f"  - {{path: {b}, project_id: 2}}\n"
    )
    (problem,) = cfg.problems()
    assert "folders[0].after_upload.move_to: archive folder" in problem
    assert "inside drop folder 'b'" in problem


def test_the_archive_cannot_be_the_drop_folder_itself(cfg):
    a = cfg.drop("a")
    cfg.write_main(f"folders:\n  - {{path: {a}, project_id: 1, after_upload: {{move_to: {a}}}}}\n")
    (problem,) = cfg.problems()
    assert "is the drop folder 'a' itself" in problem


def test_the_state_directory_inside_a_drop_folder_is_refused(cfg):
    a = cfg.drop("a")
    cfg.write_main(f"folders:\n  - {{path: {a}, project_id: 1}}\n")
    cfg.main.write_text(
        cfg.main.read_text().replace("state_dir: state", f"state_dir: {a}/.x/../db")
    )
    (problem,) = cfg.problems()
    assert "state_dir: the state directory is inside drop folder 'a'" in problem


def test_a_refused_layout_also_lists_the_problems_of_the_folders_on_this_machine(cfg):
    shared = cfg.drop("shared")
    cfg.write_main(
        f"folders:\n  - {{name: one, path: {shared}, project_id: 1}}\n"
        f"  - {{name: two, path: {shared}, project_id: 2}}\n"
        f"  - {{name: three, path: {cfg.root}/gone, project_id: 3}}\n"
    )
    overlap, missing = cfg.problems()
    assert overlap.startswith(f"{cfg.main}:8: folders[1].path: same path as drop folder 'one'")
    assert missing.startswith(
        f"{cfg.main}:9: folders[2].path: drop folder {cfg.root}/gone does not"
    )
