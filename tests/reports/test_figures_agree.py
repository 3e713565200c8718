"""One computation, six outputs: the dashboard page, the API, the CLI, CSV, XLSX and GeoJSON agree.

Each output is parsed back (HTML, JSON, CSV, the XLSX through openpyxl, GeoJSON) into
{(row key, field): value} and compared with what the API says, on the seeded 2020 data.
"""
from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser

import openpyxl
import pytest

from gridsvc.reports.cli import report_completion

KINDS = ("group", "individual")
TABLE_KEYS = {"station": "station_code", "volunteer": "app_account_id", "month": "month"}
# Chinese headers (the default language) -> field; the key column of each table -> None.
HEADERS = {
    "服务站编码": None, "志愿者账号": None, "月份": None,
    "志愿者人数": "volunteers", "目标(小时)": "target_hours",
    "群防(小时)": "group_hours", "群防完成度(%)": "group_percent",
    "群防核验(小时)": "group_verified_hours", "群防核验完成度(%)": "group_verified_percent",
    "个人巡逻(小时)": "individual_hours", "个人巡逻完成度(%)": "individual_percent",
    "个人巡逻核验(小时)": "individual_verified_hours", "个人巡逻核验完成度(%)": "individual_verified_percent",
}
KIND_HEADERS = {"类型": None, "志愿者人数": "volunteers", "目标(小时)": "target_hours", "申报时长(小时)": "hours",
                "完成度(%)": "percent", "核验时长(小时)": "verified_hours", "核验完成度(%)": "verified_percent",
                "巡逻次数": "sessions", "已核验次数": "sessions_verified"}
KIND_NAMES = {"群防": "group", "个人巡逻": "individual"}
SHEETS = {"kind": "按类型", "station": "各网格服务站", "volunteer": "按志愿者", "month": "按月"}


def api_cells(table: str, rows: list[dict]) -> dict:
    """The API's figures of a table as {(key, field): value}."""
    cells = {}
    for row in rows:
        key = row[TABLE_KEYS[table]]
        cells[key, "target_hours"] = row["target_hours"]
        if table != "volunteer":
            cells[key, "volunteers"] = row["volunteers"]
        for kind in KINDS:
            cells[key, f"{kind}_hours"] = row["claimed"][kind]["hours"]
            cells[key, f"{kind}_percent"] = row["claimed"][kind]["percent"]
            cells[key, f"{kind}_verified_hours"] = row["verified"][kind]["hours"]
            cells[key, f"{kind}_verified_percent"] = row["verified"][kind]["percent"]
    return cells


def api_kind_cells(api: dict) -> dict:
    cells = {}
    for kind in KINDS:
        cells[kind, "volunteers"], cells[kind, "target_hours"] = api["volunteers"], api["target_hours"]
        for field in ("hours", "percent", "sessions"):
            cells[kind, field] = api["claimed"][kind][field]
        cells[kind, "verified_hours"] = api["verified"][kind]["hours"]
        cells[kind, "verified_percent"] = api["verified"][kind]["percent"]
        cells[kind, "sessions_verified"] = api["verified"][kind]["sessions_verified"]
    return cells


def number(text: str):
    """A CSV cell as the API's number (None for an empty cell)."""
    if text == "":
        return None
    return float(text) if "." in text else int(text)


def table_cells(header: list, rows: list[list], mapping: dict, key_names: dict | None = None) -> dict:
    fields = [mapping[h] for h in header if h in mapping]
    assert len(fields) == len([h for h in header if h in mapping])
    key_index = next(i for i, h in enumerate(header) if h in mapping and mapping[h] is None)
    cells = {}
    for row in rows:
        key = row[key_index] if key_names is None else key_names[row[key_index]]
        for index, head in enumerate(header):
            field = mapping.get(head)
            if field is not None:
                cells[key, field] = row[index]
    return cells


def assert_table_equals_api(table: str, header: list, rows: list[list], api: dict) -> None:
    """An exported table (header and rows of cells) holds exactly the API's figures for `table`."""
    if table == "kind":
        assert table_cells(header, rows, KIND_HEADERS, KIND_NAMES) == api_kind_cells(api["kind"])
    else:
        assert table_cells(header, rows, HEADERS) == api_cells(table, api[table][f"by_{table}"]), table


class CellCollector(HTMLParser):
    """Collects the page's figures: data-field cells inside rows or kind cards marked with data-*."""

    ROW_ATTRIBUTES = ("data-station", "data-volunteer", "data-month", "data-kind")

    def __init__(self):
        super().__init__()
        self.cells: dict = {}
        self._rows: list = []  # (tag, key) stack
        self._field = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in self.ROW_ATTRIBUTES:
            if name in attributes and tag in ("tr", "div"):
                self._rows.append((tag, (name[5:], attributes[name])))
        if "data-field" in attributes and self._rows:
            self._field, self._text = attributes["data-field"], ""

    def handle_endtag(self, tag):
        if self._field is not None and tag in ("td", "span", "strong", "p"):
            self.cells[self._rows[-1][1] + (self._field,)] = self._text.strip()
            self._field = None
        if self._rows and self._rows[-1][0] == tag and tag == "tr":
            self._rows.pop()

    def handle_data(self, data):
        if self._field is not None:
            self._text += data


def page_value(text: str):
    if text in ("—", ""):
        return None
    if text == "未核验":
        return "unverified"
    return float(text.replace(" %", ""))


def shown_on_page(table: str, rows: list[dict], key_field: str) -> dict:
    """The API's figures as the page shows them: a kind with patrols but none verified reads 未核验."""
    cells = {}
    for row in rows:
        key = (table, str(row[key_field]))
        cells[key + ("target_hours",)] = row["target_hours"]
        if table != "volunteer":
            cells[key + ("volunteers",)] = row["volunteers"]
        for kind in KINDS:
            unverified = bool(row["claimed"][kind]["sessions"] and not row["verified"][kind]["sessions_verified"])
            cells[key + (f"{kind}_hours",)] = row["claimed"][kind]["hours"]
            cells[key + (f"{kind}_percent",)] = row["claimed"][kind]["percent"]
            cells[key + (f"{kind}_verified_hours",)] = "unverified" if unverified else row["verified"][kind]["hours"]
            cells[key + (f"{kind}_verified_percent",)] = None if unverified else row["verified"][kind]["percent"]
    return cells


@pytest.fixture
def api(client):
    """The API's answers for 2020, one per table."""
    answers = {}
    for group in ("station", "volunteer", "month", "kind"):
        response = client.get(f"/api/v1/completion?period=2020&group_by={group}")
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        answers[group] = response.get_json()
    return answers


def test_the_api_reproduces_the_2020_report(api):
    totals = api["kind"]
    assert totals["volunteers"] == 647 and totals["target_hours"] == 3882.0
    assert totals["claimed"]["group"]["hours"] == 7068.88 and totals["claimed"]["group"]["percent"] == 182.09
    assert totals["claimed"]["individual"]["hours"] == 7545.34 and totals["claimed"]["individual"]["percent"] == 194.37
    assert len(api["station"]["by_station"]) == 15
    assert len(api["volunteer"]["by_volunteer"]) == 647
    assert len(api["month"]["by_month"]) == 12
    for table, key in (("station", "by_station"), ("volunteer", "by_volunteer"), ("month", "by_month")):
        for kind in KINDS:
            assert sum(r["claimed"][kind]["seconds"] for r in api[table][key]) == totals["claimed"][kind]["seconds"]
    # the monthly target shares add up to the year's target (to the float's precision)
    assert sum(r["target_seconds"] for r in api["month"]["by_month"]) == pytest.approx(api["kind"]["target_seconds"])
    percents = [min(r["claimed"][k]["percent"] for k in KINDS) for r in api["volunteer"]["by_volunteer"]]
    assert percents == sorted(percents)  # furthest behind first


def test_page_shows_the_api_figures(client, api):
    page = client.get("/dashboard?period=2020")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "完成度" in html and "群防" in html  # Chinese by default
    assert "182.09 %" in html and "194.37 %" in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    collector = CellCollector()
    collector.feed(html)
    found = {key: page_value(text) for key, text in collector.cells.items()}

    for kind in KINDS:
        figure, verified = api["kind"]["claimed"][kind], api["kind"]["verified"][kind]
        assert found["kind", kind, "hours"] == figure["hours"]
        assert found["kind", kind, "percent"] == figure["percent"]
        assert found["kind", kind, "target_hours"] == api["kind"]["target_hours"]
        if figure["sessions"] and not verified["sessions_verified"]:
            assert found["kind", kind, "verified_hours"] == "unverified"
        else:
            assert found["kind", kind, "verified_hours"] == verified["hours"]

    for table, rows, key_field in (("station", api["station"]["by_station"], "station_code"),
                                   ("month", api["month"]["by_month"], "month"),
                                   ("volunteer", api["volunteer"]["by_volunteer"][:100], "volunteer_id")):
        shown = {key: value for key, value in found.items() if key[0] == table}
        assert shown == shown_on_page(table, rows, key_field), table
    # the page lists the same 100 volunteers furthest behind, in the API's order
    order = [key[1] for key in collector.cells if key[0] == "volunteer" and key[2] == "target_hours"]
    assert order == [str(r["volunteer_id"]) for r in api["volunteer"]["by_volunteer"][:100]]


def test_trend_chart_is_inline_svg_with_the_monthly_figures(client, api):
    html = client.get("/dashboard?period=2020").get_data(as_text=True)
    assert "<svg" in html and "<script" not in html
    for row in api["month"]["by_month"]:
        for kind in KINDS:
            assert f'data-month="{row["month"]}" data-kind="{kind}" data-hours="{row["claimed"][kind]["hours"]:.2f}"' \
                in html
        assert f'data-month="{row["month"]}" data-hours="{row["target_hours"]:.2f}"' in html


def test_csv_exports_equal_the_api(client, api):
    for table in ("station", "volunteer", "month", "kind"):
        response = client.get(f"/api/v1/completion.csv?period=2020&table={table}")
        assert response.status_code == 200 and response.mimetype == "text/csv"
        assert response.data.startswith("\ufeff".encode("utf-8"))  # BOM: Excel reads the Chinese headers
        assert "attachment" in response.headers["Content-Disposition"]
        header, *rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
        mapping = KIND_HEADERS if table == "kind" else HEADERS
        rows = [[number(cell) if mapping.get(head) else cell for head, cell in zip(header, row)] for row in rows]
        assert_table_equals_api(table, header, rows, api)


def test_xlsx_opens_with_openpyxl_and_its_numbers_equal_the_api(client, api):
    response = client.get("/api/v1/completion.xlsx?period=2020")
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(response.data))
    assert workbook.sheetnames[:4] == list(SHEETS.values())
    for table, title in SHEETS.items():
        sheet = workbook[title]
        header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
        numeric = [i for i, h in enumerate(header) if (KIND_HEADERS if table == "kind" else HEADERS).get(h)]
        for cells in sheet.iter_rows(min_row=2):
            for index in numeric:
                cell = cells[index]
                assert cell.value is None or isinstance(cell.value, (int, float)), (title, cell.coordinate)
                if "小时" in header[index] or "%" in header[index]:
                    assert cell.number_format == "0.00", (title, cell.coordinate)
        assert_table_equals_api(table, header, rows, api)


def test_geojson_stations_carry_the_api_figures(client, api):
    response = client.get("/api/v1/completion.geojson?period=2020")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    collection = response.get_json()
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == 15
    cells = {}
    for feature in collection["features"]:
        assert feature["geometry"]["type"] == "MultiPolygon"
        properties = feature["properties"]
        cells[properties["station_code"], "volunteers"] = properties["volunteers"]
        cells[properties["station_code"], "target_hours"] = properties["target_hours"]
        for kind in KINDS:
            for field in ("hours", "percent", "verified_hours", "verified_percent"):
                cells[properties["station_code"], f"{kind}_{field}"] = properties[f"{kind}_{field}"]
    assert cells == api_cells("station", api["station"]["by_station"])


def test_cli_writes_the_same_figures(app, client, api, tmp_path):
    runner = app.test_cli_runner()
    for group in ("station", "volunteer", "month", "kind"):
        result = runner.invoke(report_completion, ["--period", "2020", "--group-by", group, "--format", "json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output) == api[group]

    for table in ("station", "volunteer", "month", "kind"):
        out = tmp_path / f"{table}.csv"
        result = runner.invoke(report_completion, ["--period", "2020", "--group-by", table, "--format", "csv",
                                                   "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert out.read_bytes() == client.get(f"/api/v1/completion.csv?period=2020&table={table}").data

    out = tmp_path / "completion.xlsx"
    result = runner.invoke(report_completion, ["--period", "2020", "--format", "xlsx", "--out", str(out)])
    assert result.exit_code == 0, result.output
    sheet = openpyxl.load_workbook(out)["各网格服务站"]
    header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert table_cells(header, rows, HEADERS) == api_cells("station", api["station"]["by_station"])

    out = tmp_path / "stations.geojson"
    result = runner.invoke(report_completion, ["--period", "2020", "--format", "geojson", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8")) == client.get("/api/v1/completion.geojson?period=2020").get_json()

    table = runner.invoke(report_completion, ["--period", "2020", "--group-by", "month", "--format", "table"])
    assert table.exit_code == 0, table.output
    assert "7068.88 h" in table.output and "182.09 %" in table.output and "194.37 %" in table.output
    assert "月份" in table.output and "2020-12" in table.output
