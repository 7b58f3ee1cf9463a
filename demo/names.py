"""Chinese place-name word lists and unique-name pickers for the demo city.

The lists are small and generic on purpose: the names should read like a real Chinese city
without pointing at any real place.
"""

from collections.abc import Sequence

import numpy as np

CITY_NAME = "江岸市"

# Old urban districts get the "water" names, outer districts the "hill" names.
CORE_DISTRICT_ROOTS = ("东湖", "江北", "西城", "南湖", "月湖", "临江")
OUTER_DISTRICT_ROOTS = ("鹿山", "青溪", "白石", "望海", "凤岭", "松阳", "梅溪", "金塘")

STREET_ROOTS = (
    "白云", "柳桥", "新桥", "城东", "城西", "城南", "城北", "龙泉", "石门", "双桥", "花港",
    "梅林", "桃源", "青山", "清河", "长春", "朝阳", "东门", "西门", "南门", "鼓楼", "湖滨",
    "江滨", "文昌", "兴宁", "中河", "凤凰", "金沙", "银湖", "玉泉", "松林", "竹园", "荷花",
    "杏林", "枫桥", "柳湾", "沙河", "溪口", "塘头", "大林", "石桥", "三山", "五里", "七星",
    "九龙", "天河", "云龙", "卧龙", "龙山", "虎山", "横山", "长山", "高塘", "芦浦", "蒲湾",
    "新城", "桂花", "兰亭", "雁门", "鹤岭", "东港", "西塘", "南浦", "北岸", "上林", "下河",
    "前洋", "后湾", "里仁", "黄泥", "马岙", "丰收", "平原", "古塘", "岭南", "泉口", "洋山",
)

COMMUNITY_ROOTS = (
    "新民", "和平", "光明", "幸福", "胜利", "东风", "朝晖", "红旗", "解放", "建设", "民主",
    "团结", "前进", "友谊", "育才", "文化", "春晖", "阳光", "翠柏", "金桥", "银杏", "紫薇",
    "丁香", "海棠", "桂园", "兰园", "菊园", "竹林", "松鹤", "长乐", "永安", "安康", "和睦",
    "康乐", "锦华", "华光", "振兴", "新华", "北斗", "南苑", "东苑", "西苑", "学府", "书院",
    "文苑", "体育", "车站", "码头", "电厂", "纺织", "机械", "钢厂", "新河", "环城", "滨江",
    "青年", "百花", "桃园", "柳汀", "三江", "望春", "明月", "清风", "春江", "碧水", "彩虹",
)
SURNAMES = (
    "陈", "王", "李", "张", "刘", "周", "吴", "徐", "孙", "朱", "胡", "郑", "何", "沈", "蒋",
    "俞", "邵", "杨", "叶", "应", "林", "黄", "余", "施", "严", "董", "袁", "戴", "潘", "范",
    "方", "金", "夏", "钱", "汪", "许", "鲍", "毛", "史", "谢",
)
# Real village names are mostly a clan name plus a landform, or a landform alone.
VILLAGE_PATTERNS = ("{}家", "{}家桥", "{}家岙", "{}家湾", "{}家埭", "{}宅", "{}家塘")
VILLAGE_ROOTS = (
    "石塘", "桥头", "岭下", "山前", "溪东", "塘湾", "上庄", "下洋", "后洋", "大路", "小溪",
    "湖塘", "河头", "横塘", "沙岙", "竹山", "梅岭", "杨柳", "新塘", "高田", "里岙", "外洋",
)

ROAD_ROOTS = (
    "解放", "人民", "中山", "建设", "和平", "胜利", "新华", "长江", "黄河", "文化", "东风",
    "环城", "滨江", "学院", "工业", "科技", "创业", "民生", "兴业", "育才", "健康", "青年",
    "五一", "青云", "百花", "桃园", "柳汀", "湖东", "湖西", "江东", "江南", "府前", "县前",
    "书院", "鼓楼", "药行", "盐仓", "米行", "丝绸", "金山", "银山", "凤凰", "望江", "海晏",
    "永丰", "丰收", "光华", "兴宁", "联丰", "嘉和", "惠风", "清风", "明月", "朝阳", "翠柏",
    "松涛", "竹林", "春华", "秋实", "冬青", "紫荆", "玉兰", "芙蓉", "海棠", "银杏", "香樟",
    "梧桐", "白杨", "新河", "北环", "南环", "东环", "西环", "通途", "四明", "体育", "电站",
    "站前", "车站", "公园", "复兴", "振兴", "繁荣", "长兴", "长寿", "长春", "长安", "太平",
    "永安", "安澜", "平安", "吉祥", "如意", "福星", "福寿", "宝庆", "江岸", "钱湖", "大河",
    "桥南", "桥北", "后塘", "前塘", "启明", "知行", "崇文", "尚武", "广德", "仁和", "义和",
    "礼让", "信义", "同心", "协和", "迎宾", "环湖", "沿河", "临港", "天一", "青林", "石碶",
)
ROAD_DIRECTIONS = ("东", "西", "南", "北", "中")

COMPOUND_PREFIXES = (
    "锦绣", "阳光", "金色", "翠苑", "碧水", "蓝湾", "银河", "春江", "秋水", "星河", "天鹅",
    "紫金", "嘉禾", "怡和", "康城", "华府", "世纪", "时代", "东方", "盛世", "御景", "雅居",
    "聚贤", "和美", "书香", "滨湖", "江景", "湖景", "山水", "云顶", "泰和", "万福", "荷塘",
    "柳岸", "梅林", "桂语", "兰庭", "枫林", "樱花", "玫瑰", "百合", "丽景", "丽都", "长岛",
    "明珠", "金港", "海德", "北岸", "南苑", "新城", "新都", "未来", "江南", "水岸", "铂悦",
    "香榭", "绿洲", "翡翠", "青枫", "天和", "瑞丰", "恒安", "永宁", "福康", "景秀", "清水",
    "晨光", "晓园", "松风", "竹韵", "凤栖", "鹤鸣", "龙湾", "溪岸", "半岛", "月桂", "丹桂",
)
URBAN_COMPOUND_SUFFIXES = (
    "小区", "花园", "苑", "家园", "公寓", "名苑", "华庭", "雅苑", "新村", "府", "公馆", "嘉园",
)
PHASES = ("", "二期", "三期", "四期", "五期", "六期", "七期", "八期", "九期")


def pick(rng: np.random.Generator, pool: Sequence[str], n: int) -> list[str]:
    """Return n distinct names drawn from pool without replacement."""
    if n > len(pool):
        raise ValueError(f"only {len(pool)} names for {n} places")
    return [pool[i] for i in rng.permutation(len(pool))[:n]]


def district_names(rng: np.random.Generator, n_core: int, n_outer: int) -> list[str]:
    """Names of the districts: core ones first, then outer ones."""
    roots = pick(rng, CORE_DISTRICT_ROOTS, n_core) + pick(rng, OUTER_DISTRICT_ROOTS, n_outer)
    return [root + "区" for root in roots]


def street_names(rng: np.random.Generator, urban: Sequence[bool]) -> list[str]:
    """Names of streets, unique in the city: 街道 when urban, 镇 otherwise."""
    roots = pick(rng, STREET_ROOTS, len(urban))
    return [root + ("街道" if u else "镇") for root, u in zip(roots, urban, strict=True)]


def village_pool() -> list[str]:
    """Every village name the word lists can make."""
    clans = [pattern.format(s) for pattern in VILLAGE_PATTERNS for s in SURNAMES]
    return [root + "村" for root in clans + list(VILLAGE_ROOTS)]


def community_names(rng: np.random.Generator, urban: Sequence[bool]) -> list[str]:
    """Names of the communities of one street, unique in it: 社区 when urban, 村 otherwise."""
    n_urban = int(sum(urban))
    communities = iter(r + "社区" for r in pick(rng, COMMUNITY_ROOTS, n_urban))
    villages = iter(pick(rng, village_pool(), len(urban) - n_urban))
    return [next(communities) if u else next(villages) for u in urban]


def grid_name(community: str, number: int) -> str:
    """Name of a grid cell, e.g. 新民社区第3网格."""
    return f"{community}第{number}网格"


def road_pool() -> dict[str, list[str]]:
    """Candidate road names per kind of road."""
    numbered = [r + n + "路" for r in ROAD_ROOTS for n in ("一", "二", "三")]  # 工业二路
    return {
        "arterial": [r + "大道" for r in ROAD_ROOTS]
        + [r + d + "路" for r in ROAD_ROOTS for d in ROAD_DIRECTIONS],
        "local": [r + "路" for r in ROAD_ROOTS] + [r + "街" for r in ROAD_ROOTS] + numbered,
        "lane": [r + "巷" for r in ROAD_ROOTS] + [s + "家巷" for s in SURNAMES],
    }


def road_names(
    rng: np.random.Generator, kinds: Sequence[str], districts: Sequence[Sequence[int]],
    reuse: float = 0.15,
) -> list[str]:
    """Name roads so that a name is unique in every district a road touches.

    Arterials get names unique in the whole city. Other roads mostly get fresh names, but
    with chance `reuse` take one already used in another district, as after real county
    mergers; address matching must therefore use the district.
    """
    fresh = {kind: pick(rng, names, len(names)) for kind, names in road_pool().items()}
    used: dict[int, set[str]] = {}
    taken: dict[str, list[str]] = {kind: [] for kind in fresh}  # in order of first use
    names = []
    for kind, touched in zip(kinds, districts, strict=True):
        free = [n for n in taken[kind] if all(n not in used.get(d, ()) for d in touched)]
        if kind != "arterial" and free and (rng.random() < reuse or not fresh[kind]):
            name = free[int(rng.integers(len(free)))]
        elif fresh[kind]:
            name = fresh[kind].pop()
            taken[kind].append(name)
        else:
            raise ValueError(f"road name pool for {kind!r} exhausted")
        for d in touched:
            used.setdefault(d, set()).add(name)
        names.append(name)
    return names


def compound_names(rng: np.random.Generator, rural: Sequence[bool]) -> list[str]:
    """Names of residential compounds in one district, unique in it; rural ones are 新村."""
    urban_pool = [p + s for p in COMPOUND_PREFIXES for s in URBAN_COMPOUND_SUFFIXES]
    rural_pool = [p + "新村" for p in COMPOUND_PREFIXES] + [
        v.removesuffix("村") + "新村" for v in village_pool()
    ]
    draws = {False: _phased(rng, urban_pool), True: _phased(rng, rural_pool)}
    taken: set[str] = set()
    names = []
    for is_rural in rural:
        name = next(draws[bool(is_rural)])
        while name in taken:  # 新村 of both pools may collide
            name = next(draws[bool(is_rural)])
        taken.add(name)
        names.append(name)
    return names


def _phased(rng: np.random.Generator, pool: list[str]):
    """Yield the pool shuffled, then again as 二期, 三期 … once it runs out."""
    order = pick(rng, pool, len(pool))
    for phase in PHASES:
        for name in order:
            yield name + phase
    raise ValueError("compound name pool exhausted")
