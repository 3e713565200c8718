"""folium elements that hand gridsvc's data to maps/static/gridsvc-map.js.

Data is passed as script-safe JSON and turned into DOM by the JS with textContent, so no user
string is ever interpreted as HTML.

branca compiles every element's rendered script as a new Jinja template, so user text such as
"{{ 7*7 }}" in a folium tooltip is evaluated on the server (template injection), and multi-MB
data is run through Jinja's lexer. These elements therefore put their script into the page as
a verbatim string, never through Jinja.
"""

from __future__ import annotations

import html
import json
from typing import Any

from branca.element import Element, MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.plugins import MarkerCluster

from maps.assets import OWN_ASSET_SCHEME

GRIDSVC_JS = [("gridsvc_map_js", OWN_ASSET_SCHEME + "gridsvc/gridsvc-map.js")]
GRIDSVC_CSS = [("gridsvc_map_css", OWN_ASSET_SCHEME + "gridsvc/gridsvc-map.css")]


def script_json(value: Any) -> str:
    """JSON that is safe inside an HTML <script> element (no </script>, <!--, or line separators)."""
    return (
        json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def html_text(value: str) -> str:
    """Escape text for places folium/Leaflet treat as HTML, braces too (branca's Jinja pass)."""
    return html.escape(value).replace("{", "&#123;").replace("}", "&#125;")


class VerbatimScript(Element):
    """A piece of page script that is output as is, without being compiled as a Jinja template."""

    def __init__(self, code: str):
        super().__init__()
        self._name = "VerbatimScript"
        self.code = code

    def render(self, **kwargs) -> str:
        """Return the script text unchanged."""
        return self.code


class _VerbatimScriptMixin:
    """Adds the element's script(), verbatim, to the page before branca renders the rest."""

    def script(self) -> str:
        raise NotImplementedError

    def render(self, **kwargs):
        """Queue script() in the figure's script section, then render as folium does."""
        self.get_root().script.add_child(VerbatimScript(self.script()), name=self.get_name())
        super().render(**kwargs)


class GridsvcSetup(_VerbatimScriptMixin, JSCSSMixin, MacroElement):
    """Loads gridsvc-map.js/.css and initialises the map's bookkeeping; add it before any layer."""

    default_js = GRIDSVC_JS
    default_css = GRIDSVC_CSS

    def __init__(self, options: dict[str, Any]):
        super().__init__()
        self._name = "GridsvcSetup"
        self.options_json = script_json(options)

    def script(self) -> str:
        """gridsvc.init(map, options)."""
        return f"gridsvc.init({self._parent.get_name()}, {self.options_json});"


class GridsvcDataLayer(_VerbatimScriptMixin, JSCSSMixin, Layer):
    """An overlay built in JS by gridsvc.<factory>(map, data, options); listed in LayerControl."""

    default_js = GRIDSVC_JS
    default_css = GRIDSVC_CSS

    _FACTORIES = frozenset({"gridLayer", "trackLayer", "effortLayer", "cameraLayer"})

    def __init__(self, *, factory: str, name: str, data: Any, options: dict[str, Any], show: bool = True):
        if factory not in self._FACTORIES:
            raise ValueError(f"unknown gridsvc layer factory {factory!r}")
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "GridsvcLayer"
        self.factory = factory
        self.data_json = script_json(data)
        self.options_json = script_json(dict(options, show=show))

    def script(self) -> str:
        """var layer = gridsvc.<factory>(map, data, options)."""
        return (
            f"var {self.get_name()} = gridsvc.{self.factory}("
            f"{self._parent.get_name()}, {self.data_json}, {self.options_json});"
        )


class GridsvcCameraLayer(GridsvcDataLayer):
    """Cameras as clustered canvas CircleMarkers (needs Leaflet.markercluster)."""

    default_js = GRIDSVC_JS + list(MarkerCluster.default_js)
    default_css = GRIDSVC_CSS + list(MarkerCluster.default_css)

    def __init__(self, *, name: str, data: Any, options: dict[str, Any]):
        super().__init__(factory="cameraLayer", name=name, data=data, options=options, show=True)


class GridsvcControls(_VerbatimScriptMixin, MacroElement):
    """Legend and full-screen button."""

    def __init__(self, *, legend: dict[str, Any], fullscreen_labels: dict[str, str]):
        super().__init__()
        self._name = "GridsvcControls"
        self.legend_json = script_json(legend)
        self.fullscreen_labels_json = script_json(fullscreen_labels)

    def script(self) -> str:
        """Legend and full-screen control calls."""
        map_name = self._parent.get_name()
        return (
            f"gridsvc.legend({map_name}, {self.legend_json});\n"
            f"gridsvc.fullscreenControl({map_name}, {self.fullscreen_labels_json});"
        )
