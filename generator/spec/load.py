"""models.yaml → `Spec`: safe YAML, JSON Schema, then the checks a schema cannot express.

All problems are collected and raised together as one `SpecError`, each located
at `models.yaml:LINE:COL` with its JSON path, so one mistake never hides the next.
"""

from __future__ import annotations

import datetime
import difflib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from generator import diagnostics, yamlio
from generator.diagnostics import Diagnostic, json_path
from generator.errors import SpecError, unreadable
from generator.excerpt import as_written, quoted
from generator.platform.releases import (
    ARGOCD_DEFAULT_PIN,
    ARGOCD_RELEASES,
    FACTS,
    KSERVE_DEFAULT_PIN,
    KSERVE_RELEASES,
    KServeRelease,
    Release,
    Source,
    UnknownRelease,
    release,
)
from generator.platform.runtimes import runtime_release
from generator.spec import SPEC_FILE, rules
from generator.spec.model import (
    IN_CLUSTER,
    MANUAL_SYNC,
    PRODUCTION_NAMES,
    PRODUCTION_POLICIES,
    REF_KINDS,
    ArgoCD,
    Autoscaling,
    Environment,
    Gates,
    MetricGate,
    Platform,
    Policies,
    Ref,
    Resources,
    Serving,
    SmokeTest,
    Spec,
    StorageInitializer,
    Sync,
    Target,
)
from generator.spec.yaml_lines import Positions
from generator.spec.yaml_lines import load as load_yaml
from generator.util import schema_check

if TYPE_CHECKING:
    import jsonschema
    from jsonschema.exceptions import ValidationError

_PLATFORM_KEYS = {
    "kubernetesVersion": "kubernetes_version",
    "kserveVersion": "kserve_version",
    "argocdVersion": "argocd_version",
    "kserveInstall": "kserve_install",
    "runtimeImage": "runtime_images",
}
_MERGED_MAPS = ("env", "annotations", "nodeSelector")
_STORAGE_KEYS = {"image": "image", "configMap": "config_map", "secret": "secret"}
_SYNC_KEYS = {"automated": "automated", "prune": "prune", "selfHeal": "self_heal"}
_ARGOCD_KEYS = {
    "repoURL": "repo_url",
    "targetRevision": "target_revision",
    "namespace": "namespace",
    "project": "project",
}
_WRONG_LEVEL = {
    "override": "an override is for one model in one environment: set it in models.<model>.environments.<env>.gates"
}
_METRIC_GATE_KEYS = {"min": "min", "max": "max", "maxDrop": "max_drop", "maxRise": "max_rise", "optional": "optional"}
_POLICY_KEYS = {
    "requireLimits": "require_limits",
    "minReplicas": "min_replicas",
    "allowLatest": "allow_latest",
    "allowUnverifiedModels": "allow_unverified_models",
}
SERVING_DEFAULTS: dict[str, Any] = {
    "method": "runtime",
    "runtime": "kserve-mlserver",
    "deploymentMode": "Standard",
    "serviceAccountName": "",
    "minReplicas": 1,
}


@cache
def _schema() -> dict[str, Any]:
    # beside this module, as the package installs it (importlib.resources would cost every run its import)
    text = Path(__file__).with_name("models.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> jsonschema.protocols.Validator:
    return schema_check.validator(_schema())


@cache
def _quick_validator() -> jsonschema_rs.Validator:
    """The same schema compiled (Rust): the fast yes. Only a spec it refuses goes through `_validator`,
    which words every error; `unevaluatedProperties` makes that one slow (a second per thousand models)."""
    return jsonschema_rs.validator_for(_schema())


def registered_name_problem(name: str) -> str | None:
    """Why models.yaml cannot name this registered model, in `validate`'s words, or None when it can:
    `init --from-registry` leaves such a model out instead of writing a models.yaml that fails."""
    where: list[str | int] = ["models", "?", "registeredModel"]
    error = next(iter(_name_validator().iter_errors(name)), None)
    return None if error is None else _describe(error, where)[0]


@cache
def _name_validator() -> jsonschema.protocols.Validator:
    """The schema's rule for a registered model name, built once for every name a registry lists."""
    return schema_check.validator(_schema()["$defs"]["model"]["properties"]["registeredModel"])


@cache
def _field_names() -> tuple[str, ...]:
    """Every property name the schema knows, for 'did you mean' suggestions."""

    def names(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            yield from node.get("properties", {})
            for value in node.values():
                yield from names(value)
        elif isinstance(node, list):
            for item in node:
                yield from names(item)

    return tuple(sorted(set(names(_validator().schema))))


def load_spec(path: Path, display: str | None = None) -> tuple[Spec, list[Diagnostic]]:
    """Load and check models.yaml; returns the spec and its warnings, or raises SpecError."""
    file = display or path.name
    try:
        text = yamlio.read_text(path, follow=False)
    except FileNotFoundError:
        raise SpecError.simple(
            "file not found",
            file=file,
            hint="run from the platform repository or pass --repo DIR (models.yaml lives at its root)",
        ) from None
    except PermissionError as exc:
        raise unreadable(file, exc) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError.simple(f"cannot read: {exc}", file=file) from None
    return parse_spec(text, file)


def parse_spec(text: str, file: str = SPEC_FILE) -> tuple[Spec, list[Diagnostic]]:
    data, positions, problems = load_yaml(text, file, entries="models")
    if not problems and not isinstance(data, dict):
        problems = [
            Diagnostic(
                file=file,
                line=1,
                message="expected a mapping with apiVersion, environments and models",
                hint="see schemas/models.schema.json or the README's models.yaml reference",
            )
        ]
    if not problems and not schema_check.quickly_valid(_quick_validator(), data):
        errors = _without_echoes(_validator().iter_errors(data))
        problems = [problem for e in errors for problem in _schema_diagnostics(e, positions, file)]
    if problems:
        raise SpecError(problems)
    spec, found = _build(data, positions, file)
    if refused := diagnostics.errors(found):
        raise SpecError(refused)
    return spec, diagnostics.warnings(found)


def _without_echoes(errors: Iterator[ValidationError]) -> list[ValidationError]:
    """The errors, less "unknown field 'x'" where x is a field the schema knows: a failing `allOf` leaves
    all its properties unevaluated, so `unevaluatedProperties` lists every one of them as unexpected
    next to the real error inside. A misspelt field is still reported."""
    found = list(errors)

    def echo(error: ValidationError) -> bool:
        if error.validator != "unevaluatedProperties":
            return False
        where = tuple(error.absolute_path)
        inside = any(e is not error and tuple(e.absolute_path)[: len(where)] == where for e in found)
        return inside and set(_unexpected(error)) <= set(_field_names())

    return [e for e in found if not echo(e)]


def _unexpected(error: ValidationError) -> list[str]:
    """The keys an additional- or unevaluatedProperties error names: jsonschema writes each as its repr, so a key
    holding a quote or a line break is found as well as any other."""
    return [key for key in error.instance if repr(key) in error.message] if isinstance(error.instance, dict) else []


def _schema_diagnostics(error: ValidationError, positions: Positions, file: str) -> list[Diagnostic]:
    """One per problem: an error naming several unknown fields of a mapping gives one at each of them."""
    path: list[str | int] = list(error.absolute_path)
    if error.validator in ("additionalProperties", "unevaluatedProperties") and (named := _unexpected(error)):
        unknown = [key for key in named if key not in _field_names()] or named
        return [_diagnostic([*path, key], *_unknown_field(key), positions, file) for key in unknown]
    message, hint = _describe(error, path)
    return [_diagnostic(path, message, hint, positions, file)]


def _diagnostic(path: list[str | int], message: str, hint: str, positions: Positions, file: str) -> Diagnostic:
    line, column = positions.line_of(path)
    return Diagnostic(file=file, line=line, column=column, path=json_path(path), message=message, hint=hint)


def _unknown_field(key: str) -> tuple[str, str]:
    close = difflib.get_close_matches(key, _field_names(), n=1)
    hint = f"did you mean '{close[0]}'?" if close else "remove it; see schemas/models.schema.json"
    if close == [key]:
        hint = _WRONG_LEVEL.get(key, f"'{key}' is not allowed here; see the schema")
    return f"unknown field {quoted(key)}", hint


def _describe(error: ValidationError, path: list[str | int]) -> tuple[str, str]:  # noqa: PLR0911
    """A message in the user's words; may extend `path` to point at the offending key."""
    instance, schema = error.instance, error.schema
    description = schema.get("description", "") if isinstance(schema, dict) else ""
    if error.validator == "oneOf" and isinstance(instance, dict):
        chosen = [k for k in REF_KINDS if k in instance]
        options = "version, alias, stage or latest"
        if not chosen:
            return "no version chosen", f"set exactly one of {options}"
        return f"{' and '.join(repr(k) for k in chosen)} are both set", f"keep exactly one of {options}"
    if error.validator == "required":
        missing = re.findall(r"'([^']+)'", error.message)[0]
        return f"missing required field '{missing}'", description
    if "propertyNames" in error.relative_schema_path:
        name = str(instance)
        path.append(name)
        reason = (
            f"{len(name)} characters, at most {error.validator_value}"
            if error.validator == "maxLength"
            else "not a DNS-1035 label" + _foreign_character(name)
            if "DNS-1035" in description
            else "not a valid key"
        )
        return f"invalid name {quoted(name)}: {reason}", description
    if error.validator == "const":  # in YAML's words: `latest: false` is refused as false, not as Python's False
        allowed = as_written(error.validator_value)
        return f"{as_written(instance)} is not allowed here, only {allowed}", f"write {path[-1]}: {allowed}"
    if error.validator == "type" and isinstance(instance, datetime.date):
        wanted = str(error.validator_value)  # "string", or a list of types
        return (
            f"{instance.isoformat()} is read as a date (YAML 1.1), not as {_kinds(error.validator_value)}",
            f"quote it: '{instance.isoformat()}'" if "string" in wanted else _TYPE_HINTS.get(wanted, ""),
        )
    if error.validator == "pattern" and path == ["registry", "trackingUri"]:  # its pattern, quoted, reads as redacted
        return (
            "trackingUri must be an http:// or https:// URL with no user, password or token in it",
            "give MLflow's credentials in MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or "
            "MLFLOW_TRACKING_TOKEN, where the command runs; never in models.yaml",
        )
    if error.validator == "pattern" and path[-1:] == ["registeredModel"]:
        printable = schema_check.ecma_pattern(str(error.validator_value))
        control = next((c for c in str(instance) if not printable.search(c)), "")
        if control:  # none: the name is empty, which minLength says as well
            code = f"U+{ord(control):04X}"
            said = (
                f"control character {code}"
                if ord(control) < 0xA0
                else f"character {code}, which text does not show as itself"
            )
            return f"{quoted(instance)} holds {said}", _first_sentence(description)
    if "gates" in path:
        return _describe_gate(error, path, description)
    if error.validator == "type":  # how to write a value of the type says more than what the field is for
        return schema_check.message(error), _TYPE_HINTS.get(str(error.validator_value)) or _first_sentence(description)
    return schema_check.message(error), _first_sentence(description)


def _kinds(types: Any) -> str:
    """A schema's `type`, in words: text, a whole number…"""
    named = {"string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false"}
    return " or ".join(named.get(t, t) for t in ([types] if isinstance(types, str) else types))


_TYPE_HINTS = {
    "integer": 'write a whole number without quotes (2, not "2")',
    "number": 'write a number without quotes (0.5, not "0.5")',
    "boolean": "write true or false without quotes",
    "string": 'write it as text; quote it if it looks like a number or a boolean ("1.0", "true")',
    "object": "write a mapping: `key: value` lines indented under it, or {key: value}",
    "array": "write a list: `- item` lines indented under it, or [a, b]",
}


def _foreign_character(name: str) -> str:
    """The first character a DNS-1035 label cannot hold, named: a Cyrillic i (U+0456) looks like a Latin one."""
    foreign = next((c for c in name if not ("a" <= c <= "z" or "0" <= c <= "9" or c == "-")), None)
    if foreign is None:
        return ""
    return f" ({quoted(foreign)}, U+{ord(foreign):04X}, is not a lower-case ASCII letter, digit or '-')"


def _describe_gate(error: ValidationError, path: list[str | int], description: str) -> tuple[str, str]:
    if path[-1] == "override":
        return (
            "an override needs a reason",
            'say why the failing version may be served, e.g. override: "accuracy drop accepted: new labels"',
        )
    if error.validator == "type" and len(path) >= 2 and path[-3:-2] == ["metrics"]:
        return (
            f"gate bound '{path[-1]}' of metric '{path[-2]}' must be a number, not {error.instance!r}",
            _first_sentence(description),
        )
    return schema_check.message(error), _first_sentence(description)


def _first_sentence(text: str) -> str:
    return text.split(". ", maxsplit=1)[0].rstrip(".")


def _build(data: Mapping[str, Any], positions: Positions, file: str) -> tuple[Spec, list[Diagnostic]]:
    defaults = {**SERVING_DEFAULTS, **data.get("defaults", {})}
    kserve = _kserve(data)
    environments = {name: _environment(name, env) for name, env in data["environments"].items()}
    targets: list[Target] = []
    diagnostics: list[Diagnostic] = []
    servings = _Servings(defaults, data["environments"])
    inherited = {name: _target_gates(env.gates, {}) for name, env in environments.items()}  # no gates of its own
    initializer = "storageInitializer" in data.get("registry", {})
    checks = {
        name: rules.TargetChecks(env, kserve, storage_initializer=initializer) for name, env in environments.items()
    }
    for model_name in sorted(data["models"]):
        model = data["models"][model_name]
        for env_name, settings in model["environments"].items():
            where = ("models", model_name, "environments", env_name)
            if env_name not in environments:
                problem = rules.Problem(
                    f"unknown environment '{env_name}' (known: {', '.join(environments)})",
                    "add it under 'environments:' or fix the name",
                )
                diagnostics.append(_locate(problem, where, positions, file))
                continue
            for field in ("version", "hold"):  # 2.0 passes the schema's integer, and would be locked as "2.0"
                if isinstance(value := settings.get(field), float):
                    problem = rules.Problem(
                        f"{field} {value} is a decimal number, and a model version is a whole one",
                        f"write {field}: {int(value)}",
                    )
                    diagnostics.append(_locate(problem, (*where, field), positions, file))
            target = Target(
                model=model_name,
                env=env_name,
                registered_model=model["registeredModel"],
                ref=_ref(settings),
                hold=settings.get("hold", False) is not False,
                pinned="" if isinstance(settings.get("hold", False), bool) else str(settings["hold"]),
                serving=servings.of(env_name, model, settings),
                locate=partial(_line, positions, where),
                gates=(
                    _target_gates(environments[env_name].gates, settings["gates"])
                    if "gates" in settings
                    else inherited[env_name]
                ),
            )
            targets.append(target)
            diagnostics += [_locate(p, where, positions, file) for p in checks[env_name](target)]
    diagnostics += _follow_problems(environments, positions, file)
    diagnostics += _shared_names(environments, targets, positions, file)
    diagnostics += _gate_problems(data, positions, file)
    diagnostics += _release_problems(data, targets, positions, file)
    diagnostics += _runtime_image_problems(data, positions, file)
    diagnostics += _argocd_problems(data.get("argocd", {}), positions, file)
    order = {name: index for index, name in enumerate(environments)}
    targets.sort(key=lambda t: (t.model, order[t.env]))
    registry, platform = data.get("registry", {}), data.get("platform", {})
    spec = Spec(
        environments=environments,
        targets=tuple(targets),
        artifacts_destination=registry.get("artifactsDestination", ""),
        allowed_storage_prefixes=tuple(registry.get("allowedStoragePrefixes", ())),
        tracking_uri=registry.get("trackingUri", ""),
        platform=Platform(**_renamed(platform, _PLATFORM_KEYS)),
        argocd=_argocd(data["argocd"]) if "argocd" in data else None,
        storage_initializer=(
            StorageInitializer(**_renamed(registry["storageInitializer"], _STORAGE_KEYS))
            if "storageInitializer" in registry
            else None
        ),
        source=file,
    )
    return spec, list(dict.fromkeys(diagnostics))  # a setting many targets inherit is wrong once, where it is written


def _argocd_problems(argocd: Mapping[str, Any], positions: Positions, file: str) -> list[Diagnostic]:
    """A repoURL with credentials in it; a source that the ApplicationSet's Go template would evaluate."""
    source = {key: argocd[key] for key in ("repoURL", "targetRevision") if key in argocd}  # repoURL: required
    found = [("repoURL", rules.repo_url_problem(source["repoURL"]))] if source else []
    found += [(key, rules.template_problem(key, value)) for key, value in source.items()]
    return [_locate(problem, ("argocd", key), positions, file) for key, problem in found if problem is not None]


def _line(positions: Positions, where: tuple[str, ...]) -> int:
    return positions.line_of(where)[0]


def _locate(problem: rules.Problem, where: tuple[str, ...], positions: Positions, file: str) -> Diagnostic:
    """At the problem's field where it is written: a target's settings merge defaults, its environment's, its model's
    and its own (`_Servings`), and a value it inherits is wrong where it was set, for every target that inherits it."""
    path = (*where, *problem.field)
    if problem.field and where[:1] == ("models",) and len(where) == 4:
        _, model, _, env = where
        layers = (path, ("models", model, *problem.field), ("environments", env, *problem.field))
        path = next((p for p in (*layers, ("defaults", *problem.field)) if p in positions.by_path), path)
    line, column = positions.line_of(path)
    return Diagnostic(
        file=file,
        line=line,
        column=column,
        path=json_path(path),
        message=problem.message,
        hint=problem.hint,
        severity=problem.severity,
        rule=problem.rule,
    )


def _environment(name: str, raw: Mapping[str, Any]) -> Environment:
    production = name in PRODUCTION_NAMES
    policies = PRODUCTION_POLICIES if production else Policies()
    sync = MANUAL_SYNC if production else Sync()
    return Environment(
        name=name,
        namespace=raw["namespace"],
        clusters=tuple(raw.get("clusters", (IN_CLUSTER,))),
        policies=replace(policies, **_renamed(raw.get("policies", {}), _POLICY_KEYS)),
        promotion=raw.get("promotion", "approval" if production else "auto"),
        follow=raw.get("follow", ""),
        sync=replace(sync, **_renamed(raw.get("sync", {}), _SYNC_KEYS)),
        gates=_gates(raw.get("gates", {})),
    )


def _gates(raw: Mapping[str, Any]) -> Gates:
    return Gates(
        metrics=tuple(_metric_gate(name, rule) for name, rule in sorted(raw.get("metrics", {}).items())),
        require_signature=raw.get("requireSignature", False),
        override=raw.get("override", ""),
    )


def _metric_gate(name: str, raw: Mapping[str, Any]) -> MetricGate:
    return MetricGate(metric=name, **_renamed(raw, _METRIC_GATE_KEYS))


def _target_gates(environment: Gates, raw: Mapping[str, Any]) -> Gates:
    """The environment's gates with this model's own: a metric named here replaces the environment's rule for it."""
    own = _gates(raw)
    metrics = {g.metric: g for g in environment.metrics} | {g.metric: g for g in own.metrics}
    return Gates(
        metrics=tuple(metrics[name] for name in sorted(metrics)),
        require_signature=raw.get("requireSignature", environment.require_signature),
        override=own.override.strip(),
    )


def _gate_problems(data: Mapping[str, Any], positions: Positions, file: str) -> list[Diagnostic]:
    """Bounds that no value can satisfy, wherever gates are written (environments, models' environments)."""
    places: list[tuple[tuple[str, ...], Any]] = [
        (("environments", name), env.get("gates", {})) for name, env in data["environments"].items()
    ]
    places += [
        (("models", model, "environments", env), settings.get("gates", {}))
        for model, spec in data["models"].items()
        for env, settings in spec["environments"].items()
    ]
    return [_locate(problem, where, positions, file) for where, raw in places for problem in rules.check_gates(raw)]


def _kserve(data: Mapping[str, Any]) -> KServeRelease:
    """The pinned KServe release. An unknown pin is reported by `_release_problems`; meanwhile the default
    release checks the rest, so one mistake does not hide the next (nothing is generated from an invalid spec)."""
    try:
        return release(KSERVE_RELEASES, data.get("platform", {}).get("kserveVersion", KSERVE_DEFAULT_PIN))
    except UnknownRelease:
        return release(KSERVE_RELEASES, KSERVE_DEFAULT_PIN)


def _release_problems(
    data: Mapping[str, Any], targets: list[Target], positions: Positions, file: str
) -> list[Diagnostic]:
    """Pins of releases the platform layer lacks are errors; facts it has only from before a release's tag
    are said once per release, and once per runtime image a target relies on."""
    platform = data.get("platform", {})
    problems = []
    for key, known, default in (
        ("kserveVersion", KSERVE_RELEASES, KSERVE_DEFAULT_PIN),
        ("argocdVersion", ARGOCD_RELEASES, ARGOCD_DEFAULT_PIN),
    ):
        version = platform.get(key, default)
        try:
            pinned: Release = release(known, version)
        except UnknownRelease as exc:
            hint = "pin a known release; a new one is added as data in generator/platform/releases.py"
            problems.append(
                _locate(rules.Problem(str(exc), hint, rule="platform-release"), ("platform", key), positions, file)
            )
            continue
        if unconfirmed := pinned.unconfirmed():
            problems.append(_locate(_unconfirmed(pinned, version, unconfirmed), ("platform", key), positions, file))
    if not diagnostics.errors(problems):
        problems += [
            _locate(problem, ("platform", "kserveVersion"), positions, file)
            for problem in _unconfirmed_images(Platform(**_renamed(platform, _PLATFORM_KEYS)), targets)
        ]
    return problems


def _unconfirmed(pinned: Release, version: str, facts: Mapping[str, Source]) -> rules.Problem:
    where = sorted({source.at for source in facts.values()})
    return rules.Problem(
        f"{pinned.project} {version} is known from pre-release sources only: its "
        f"{', '.join(FACTS[fact] for fact in facts)} were read from {' and '.join(where)}, before the tag; "
        f"unconfirmed at {version}",
        "compare them with the release (docs/model-compatibility.md, Releases); `schemas fetch` refuses a file "
        "that is not the expected CRD",
        severity="warning",
        rule="platform-release",
    )


def _unconfirmed_images(platform: Platform, targets: list[Target]) -> list[rules.Problem]:
    """Runtime images that targets run by default and that were read before the pinned release's tag."""
    runtimes = sorted(
        {t.serving.runtime for t in targets if t.serving.method != "image"} - set(platform.runtime_images)
    )
    problems = []
    for runtime in runtimes:
        shipped = runtime_release(runtime, platform.kserve_version)
        if shipped is None or shipped.source.confirmed:
            continue
        problems.append(
            rules.Problem(
                f"KServe {platform.kserve_version}: the {runtime} image of a {platform.kserve_install} install, "
                f"{platform.runtime_image(runtime)}, was read from {shipped.source.at} ({shipped.source.path}), "
                f"before the tag; unconfirmed at {platform.kserve_version}, and the compatibility checks judge "
                "models against it",
                f"state the image your clusters run: platform.runtimeImage: {{{runtime}: REGISTRY/REPOSITORY:TAG}} "
                f"(kubectl get clusterservingruntime {runtime} -o jsonpath='{{.spec.containers[0].image}}')",
                severity="warning",
                rule="platform-release",
            )
        )
    return problems


def _runtime_image_problems(data: Mapping[str, Any], positions: Positions, file: str) -> list[Diagnostic]:
    images = data.get("platform", {}).get("runtimeImage", {})
    return [
        _locate(problem, ("platform", "runtimeImage", runtime), positions, file)
        for runtime, image in images.items()
        if (problem := rules.runtime_image_problem(runtime, image))
    ]


def _follow_problems(environments: Mapping[str, Environment], positions: Positions, file: str) -> list[Diagnostic]:
    """`follow` must name another environment, and following must not go round in a circle."""
    problems = []
    for env in environments.values():
        seen, current = [env.name], env.follow
        while current and current in environments and current not in seen:
            seen.append(current)
            current = environments[current].follow
        if env.follow and (env.follow not in environments or current in seen):
            cycle = " → ".join([*seen, current])
            what = "is not an environment" if env.follow not in environments else f"makes a cycle: {cycle}"
            problem = rules.Problem(
                f"follow: '{env.follow}' {what}", "follow an earlier environment, e.g. prod follows staging"
            )
            problems.append(_locate(problem, ("environments", env.name, "follow"), positions, file))
    return problems


def _shared_names(
    environments: Mapping[str, Environment], targets: list[Target], positions: Positions, file: str
) -> list[Diagnostic]:
    """A model served in two environments that share a namespace on a cluster: both would be one InferenceService
    (its name is the model's), each environment's Argo CD Application taking it from the other."""
    first: dict[tuple[str, str, str], str] = {}
    problems = []
    for target in targets:
        environment = environments[target.env]
        served = {first.setdefault((c, environment.namespace, target.model), target.env) for c in environment.clusters}
        if others := sorted(served - {target.env}):
            problem = rules.Problem(
                f"is served in namespace '{environment.namespace}' by environment '{others[0]}' too, on the same "
                "cluster: both would be one InferenceService",
                "give each environment a namespace of its own",
            )
            problems.append(_locate(problem, ("models", target.model, "environments", target.env), positions, file))
    return problems


def _argocd(raw: Mapping[str, Any]) -> ArgoCD:
    smoke = raw.get("smokeTest")
    return ArgoCD(**_renamed(raw, _ARGOCD_KEYS), smoke_test=SmokeTest(**smoke) if smoke else None)


def _renamed(raw: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """models.yaml's camelCase keys as dataclass field names."""
    return {field: raw[key] for key, field in names.items() if key in raw}


def _merge(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Most specific layer wins; `resources` and the maps (env, annotations, nodeSelector) merge key by key."""
    out: dict[str, Any] = {"resources": {"requests": {}, "limits": {}}, **{k: {} for k in _MERGED_MAPS}}
    for layer in layers:
        for key, value in layer.items():
            if key == "resources":
                for part in ("requests", "limits"):
                    out["resources"][part].update({k: str(v) for k, v in value.get(part, {}).items()})
            elif key in _MERGED_MAPS:
                out[key].update(value)
            else:
                out[key] = value
    return out


_NOT_SERVING = {"registeredModel", "environments", "hold", "gates", *REF_KINDS}  # keys `_serving` never reads


class _Servings:
    """`_serving` of the merged layers. Targets of one environment whose model and own settings set no serving field
    (most of them) share one object: a thousand models cost one merge per environment."""

    def __init__(self, defaults: Mapping[str, Any], environments: Mapping[str, Mapping[str, Any]]) -> None:
        self._defaults, self._environments = defaults, environments
        self._inherited: dict[str, Serving] = {}

    def of(self, env_name: str, model: Mapping[str, Any], settings: Mapping[str, Any]) -> Serving:
        environment = self._environments[env_name]
        if not (_NOT_SERVING.issuperset(model) and _NOT_SERVING.issuperset(settings)):
            return _serving(_merge(self._defaults, environment, model, settings))
        if env_name not in self._inherited:
            self._inherited[env_name] = _serving(_merge(self._defaults, environment))
        return self._inherited[env_name]


def _ref(settings: Mapping[str, Any]) -> Ref:
    kind = next(k for k in REF_KINDS if k in settings)
    return Ref(kind, "" if kind == "latest" else str(settings[kind]))


def _serving(merged: Mapping[str, Any]) -> Serving:
    minimum = int(merged["minReplicas"])
    return Serving(
        method=merged["method"],
        runtime=merged["runtime"],
        deployment_mode=merged["deploymentMode"],
        service_account=merged["serviceAccountName"],
        automount_token=merged.get("automountServiceAccountToken"),
        resources=Resources(
            requests=dict(sorted(merged["resources"]["requests"].items())),
            limits=dict(sorted(merged["resources"]["limits"].items())),
        ),
        min_replicas=minimum,
        max_replicas=int(merged.get("maxReplicas", max(minimum, 1))),
        env=dict(sorted(merged["env"].items())),
        annotations=dict(sorted(merged["annotations"].items())),
        autoscaling=Autoscaling(**merged["autoscaling"]) if "autoscaling" in merged else None,
        canary_percent=merged.get("canaryTrafficPercent"),
        ingress_class=merged.get("ingressClass", ""),
        node_selector=dict(sorted(merged["nodeSelector"].items())),
        tolerations=tuple(merged.get("tolerations", ())),
        image_repository=merged.get("imageRepository", ""),
    )
