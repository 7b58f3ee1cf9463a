"""Fake but realistic personal data for the demo feeds (names, phones, ID-card numbers).

Derived from a person id, so the same person calls again with the same number; GridHub must
mask or hash these at ingest and never store them in clear.
"""

from __future__ import annotations

import numpy as np

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建华志强婷玉兰海燕红梅文斌宇浩")
PHONE_PREFIXES = np.array([130, 131, 132, 135, 136, 137, 138, 139, 150, 151, 152, 158, 159, 186, 187, 188, 199])


def names(person_id: np.ndarray) -> np.ndarray:
    pid = np.asarray(person_id, dtype=np.int64)
    s = np.array(SURNAMES, dtype=object)[pid % len(SURNAMES)]
    g1 = np.array(GIVEN, dtype=object)[(pid // 7) % len(GIVEN)]
    g2 = np.array(GIVEN, dtype=object)[(pid // 131) % len(GIVEN)]
    two = (pid // 3) % 3 != 0
    return np.where(two, s + g1 + g2, s + g1)


def phones(person_id: np.ndarray) -> np.ndarray:
    pid = np.asarray(person_id, dtype=np.int64)
    prefix = PHONE_PREFIXES[pid % len(PHONE_PREFIXES)]
    rest = (pid * 7919 + 12345678) % 100_000_000
    return np.char.add(prefix.astype(str), np.char.zfill(rest.astype(str), 8)).astype(object)


def id_numbers(person_id: np.ndarray) -> np.ndarray:
    pid = np.asarray(person_id, dtype=np.int64)
    birth = 19500101 + (pid % 50) * 10000 + (pid % 12) * 100 + pid % 28
    seq = (pid * 31) % 1000
    return np.char.add(np.char.add("339901", birth.astype(str)), np.char.zfill(seq.astype(str), 3)).astype(object) + "X"
