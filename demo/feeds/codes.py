"""Each agency's own codes for the canonical categories and statuses (the specs map them back).

Tables list one label per member of core.case.Category / Status, in the enums' order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.case import Category, Status

CATEGORY_TABLES: dict[str, tuple[str, ...]] = {
    # labour, neighbourhood, family, property_mgmt, real_estate, land_construction, medical,
    # traffic, consumer, public_security, environment, other
    "police_110": ("0701", "0301", "0302", "0303", "0304", "0305", "0501", "0201", "0601",
                   "0101", "0801", "0901"),
    "court_mediation": ("劳动争议", "相邻关系纠纷", "婚姻家庭纠纷", "物业服务合同纠纷",
                        "房屋买卖合同纠纷", "建设工程施工合同纠纷", "医疗损害责任纠纷",
                        "机动车交通事故责任纠纷", "买卖合同纠纷", "侵权责任纠纷",
                        "环境污染责任纠纷", "其他民事纠纷"),
    "people_mediation": ("LD", "LL", "HY", "WY", "FC", "ZD", "YL", "JT", "XF", "ZA", "HJ", "QT"),
    "petitions": ("劳动和社会保障", "邻里矛盾", "婚姻家庭", "物业管理", "城乡建设-房产",
                  "国土资源-征地拆迁", "卫生健康", "交通运输", "市场监管", "政法-治安",
                  "生态环境", "其他"),
    "urban_management": ("L01", "B02", "F01", "C03", "R01", "D04", "M01", "T05", "S01", "P01",
                         "A01", "Z99"),
    "district_system": tuple(str(i) for i in range(1, 13)),
    "grid_patrol": ("SQ-LD", "SQ-LL", "SQ-JT", "SQ-WY", "SQ-FC", "SQ-CJ", "SQ-YL", "AQ-JT",
                    "SQ-XF", "AQ-ZA", "HJ-WS", "QT"),
}
STATUS_TABLES: dict[str, tuple[str, ...]] = {
    # reported, accepted, in_mediation, resolved, unresolved, referred, closed
    "police_110": ("10", "20", "30", "50", "60", "40", "70"),
    "court_mediation": ("待立案", "已立案", "调解中", "已结案", "调解终结", "转立案", "已归档"),
    "people_mediation": ("登记", "受理", "调解中", "已调结", "未调结", "移交", "终止"),
    "petitions": ("登记", "受理", "办理中", "办结", "未化解", "转送", "终结"),
    "urban_management": ("0", "1", "2", "4", "5", "3", "6"),
    "labour_inspection": ("已登记", "已立案", "调查中", "已结案", "未结案", "移送仲裁", "已撤销"),
    "district_system": ("1", "2", "3", "4", "5", "6", "7"),
    "grid_patrol": ("new", "assigned", "handling", "done", "failed", "escalated", "closed"),
}
# Labour inspection records every case as labour, under several causes of action.
LABOUR_CAUSES = ("拖欠工资", "未签订劳动合同", "社会保险争议", "加班费争议", "工伤待遇")


def category_labels(feed: str, categories: pd.Series) -> np.ndarray:
    """The feed's own category code of each canonical category."""
    table = dict(zip((c.value for c in Category), CATEGORY_TABLES[feed], strict=True))
    return np.array([table[c] for c in categories], dtype=object)


def status_labels(feed: str, statuses: pd.Series) -> np.ndarray:
    """The feed's own status code of each canonical status."""
    table = dict(zip((s.value for s in Status), STATUS_TABLES[feed], strict=True))
    return np.array([table[s] for s in statuses], dtype=object)


def category_map(feed: str) -> dict[str, str]:
    """Source code -> canonical category, as the feed's spec writes it."""
    return dict(zip(CATEGORY_TABLES[feed], (c.value for c in Category), strict=True))


def status_map(feed: str) -> dict[str, str]:
    """Source code -> canonical status, as the feed's spec writes it."""
    return dict(zip(STATUS_TABLES[feed], (s.value for s in Status), strict=True))
