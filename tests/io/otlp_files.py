"""Reading OTLP/JSON files with plain json: the tests' independent path to the values."""

import json


def spans_of(path):
    """Every span in the file, in start order."""
    spans = []
    for line in path.read_text().splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                spans += ss["spans"]
    return sorted(spans, key=lambda s: int(s["startTimeUnixNano"]))


def attr(span, key):
    """A span attribute's value as the JSON holds it (intValue is a string there)."""
    for pair in span.get("attributes", []):
        if pair["key"] == key:
            value = pair["value"]
            return value.get("doubleValue", value.get("intValue", value.get(
                "boolValue", value.get("stringValue"))))
    return None
