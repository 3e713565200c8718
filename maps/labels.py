"""Text shown on gridsvc maps: legend and layer titles, tooltip field names, category names.

The app passes translated strings as ``labels=``; any key left out falls back to Chinese.
"""

from __future__ import annotations

from typing import Mapping

LABELS_ZH: dict[str, str] = {
    "title": "网格化服务管理",
    "legend": "图例",
    "layer_centre": "网格中心",
    "layer_stations": "网格服务站",
    "layer_cells": "网格",
    "layer_cameras": "监控探头",
    "layer_tracks": "巡逻轨迹",
    "layer_effort": "巡逻覆盖",
    "level_centre": "网格中心",
    "level_station": "网格服务站",
    "level_cell": "网格",
    "code": "编码",
    "level": "层级",
    "volunteers": "志愿者",
    "hours": "巡逻时长(小时)",
    "percent": "完成率",
    "camera_count": "探头数",
    "no_data": "无数据",
    "completion": "完成率(服务站)",
    "device_id": "设备编码",
    "id_centre": "中心编码",
    "id_industry": "行业编码",
    "id_type": "类型编码",
    "id_network": "网络标识",
    "id_serial": "设备序号",
    "camera_kind": "类型",
    "camera_status": "状态",
    "police_linked": "接入派出所",
    "station": "所属服务站",
    "yes": "是",
    "no": "否",
    "kind_security": "治安监控探头",
    "kind_grid": "网格化监控探头",
    "kind_unknown": "其他探头",
    "status_online": "在线",
    "status_offline": "离线",
    "status_fault": "故障",
    "status_unknown": "状态未知",
    "not_police_linked": "未接入派出所(虚线)",
    "camera_cluster": "探头聚合(红标:需关注数)",
    "track_group": "群防巡逻",
    "track_individual": "个人巡逻",
    "track_unknown": "其他巡逻",
    "patroller": "巡逻人员",
    "start": "开始",
    "end": "结束",
    "effort_hours": "巡逻时长(小时)",
    "fullscreen": "全屏",
    "exit_fullscreen": "退出全屏",
}

LABELS_EN: dict[str, str] = {
    "title": "Grid service management",
    "legend": "Legend",
    "layer_centre": "Grid centre",
    "layer_stations": "Grid stations",
    "layer_cells": "Grid cells",
    "layer_cameras": "Cameras",
    "layer_tracks": "Patrol tracks",
    "layer_effort": "Patrol coverage",
    "level_centre": "Grid centre",
    "level_station": "Grid station",
    "level_cell": "Grid cell",
    "code": "Code",
    "level": "Level",
    "volunteers": "Volunteers",
    "hours": "Patrol hours",
    "percent": "Completion",
    "camera_count": "Cameras",
    "no_data": "no data",
    "completion": "Completion (stations)",
    "device_id": "Device ID",
    "id_centre": "Centre code",
    "id_industry": "Industry code",
    "id_type": "Type code",
    "id_network": "Network",
    "id_serial": "Serial",
    "camera_kind": "Kind",
    "camera_status": "Status",
    "police_linked": "Linked to police",
    "station": "Station",
    "yes": "yes",
    "no": "no",
    "kind_security": "Security camera",
    "kind_grid": "Grid camera",
    "kind_unknown": "Other camera",
    "status_online": "online",
    "status_offline": "offline",
    "status_fault": "fault",
    "status_unknown": "status unknown",
    "not_police_linked": "Not linked to police (dashed)",
    "camera_cluster": "Camera cluster (red: needing attention)",
    "track_group": "Group patrol",
    "track_individual": "Individual patrol",
    "track_unknown": "Other patrol",
    "patroller": "Patroller",
    "start": "Start",
    "end": "End",
    "effort_hours": "Patrol hours",
    "fullscreen": "Full screen",
    "exit_fullscreen": "Exit full screen",
}


def resolve_labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    """Merge labels over the Chinese defaults; unknown keys raise so typos don't go unnoticed."""
    merged = dict(LABELS_ZH)
    if labels:
        unknown = sorted(set(labels) - set(LABELS_ZH))
        if unknown:
            raise ValueError(f"unknown map label keys: {', '.join(unknown)}")
        for key, value in labels.items():
            if not isinstance(value, str):
                raise TypeError(f"map label {key!r} must be a str, not {type(value).__name__}")
            merged[key] = value
    return merged
