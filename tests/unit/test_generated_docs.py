"""The generated parts of the docs (scripts/generated_docs.py): current in this checkout,
and stale as soon as their source changes (module variables and outputs, openapi.yaml)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from scripts import generated_docs
from scripts.generated_docs import HTTP_API_DOC, MODULES_DIR, OPENAPI, SECURITY_DOC

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_every_generated_section_is_current() -> None:
    stale = [str(p.relative_to(REPO_ROOT)) for p in generated_docs.stale()]
    assert stale == [], "run `make docs`"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A scratch copy of the generated files and their sources."""
    for directory in (Path("terraform"), Path("bootstrap"), Path(".github") / "workflows"):
        shutil.copytree(REPO_ROOT / directory, tmp_path / directory)
    (tmp_path / "docs").mkdir()
    for path in [
        HTTP_API_DOC,
        SECURITY_DOC,
        OPENAPI,
        *(Path(p.name) for p in REPO_ROOT.glob("*.tf")),
    ]:
        shutil.copy2(REPO_ROOT / path, tmp_path / path)
    assert generated_docs.stale(tmp_path) == []
    return tmp_path


def test_a_new_module_variable_makes_its_readme_stale_until_regenerated(root: Path) -> None:
    queue = root / MODULES_DIR / "queue"
    with (queue / "variables.tf").open("a") as variables:
        variables.write(
            '\nvariable "extra_setting" {\n  description = "An extra | setting."\n'
            "  type = object({\n    a = string # why\n    b = optional(number, 2)\n  })\n}\n"
        )
    assert generated_docs.stale(root) == [queue / "README.md"]

    assert generated_docs.write(root) == [queue / "README.md"]
    assert generated_docs.stale(root) == []
    assert (
        "| extra_setting | An extra \\| setting. | `object({a = string, b = optional(number, 2)})`"
        " | n/a | yes |"
    ) in (queue / "README.md").read_text()


def test_a_changed_output_description_makes_its_readme_stale(root: Path) -> None:
    outputs = root / MODULES_DIR / "table" / "outputs.tf"
    outputs.write_text(outputs.read_text().replace("Name of the table.", "The table's name."))
    assert generated_docs.stale(root) == [root / MODULES_DIR / "table" / "README.md"]


def test_a_changed_operation_in_openapi_makes_the_http_api_doc_stale(root: Path) -> None:
    document = root / OPENAPI
    text = document.read_text()
    document.write_text(text.replace("summary: One job\n", "summary: One job, by id\n"))
    assert generated_docs.stale(root) == [root / HTTP_API_DOC]
    generated_docs.write(root)
    assert (
        "| `GET /v1/jobs/{job_id}` | One job, by id | api | yes |"
        in (root / HTTP_API_DOC).read_text()
    )


def test_a_file_without_its_markers_is_an_error(root: Path) -> None:
    readme = root / MODULES_DIR / "api" / "README.md"
    readme.write_text("# api\n")
    with pytest.raises(ValueError, match="no <!-- BEGIN_TF_DOCS -->"):
        generated_docs.stale(root)


def test_a_changed_skip_reason_makes_the_security_doc_stale(root: Path) -> None:
    main = root / "main.tf"
    main.write_text(
        main.read_text().replace(
            "checkov:skip=CKV_AWS_356:Same key policy", "checkov:skip=CKV_AWS_356:The key policy"
        )
    )
    assert generated_docs.stale(root) == [root / SECURITY_DOC]
