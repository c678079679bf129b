"""What a desk worker must tell the resident, recognised in a sentence of any edition.

Six kinds of key fact, each a pattern over the guidebook's own phrasing in its languages (and the
Japanese terms every translated edition repeats in brackets): a deadline or period (14日以内,
within 14 days), an obligation or prohibition (しなければなりません, 罰則, must), where to go (窓口,
市区町村, 地方出入国在留管理官署, police), what to bring, what it costs (手数料, free), and who is
eligible. ``fact_score`` is the share of kinds a sentence carries (capped); answer extraction adds
it to the sentence's relevance, so among equally relevant sentences the one with the facts wins.
"""
from __future__ import annotations

import re

_UNITS = (r"日|か月|ヶ月|カ月|ヵ月|週間|年|days?|months?|weeks?|years?|ngày|tháng|tuần|năm|dias?|meses|mês|semanas?|anos?"
          r"|天|个月|個月|周|araw|buwan|linggo|taon|दिन|महिना|हप्ता|वर्ष|วัน|เดือน|สัปดาห์|ปี")
KINDS = {
    "deadline": re.compile(rf"\d+\s*(?:{_UNITS})|以内|まで|期限|deadline|within|trong vòng|dentro de|prazo|以内|之内|sa loob ng|भित्र|ภายใน", re.I),
    "obligation": re.compile(r"しなければ|なければなりません|必要|義務|禁止|罰則|いけません|できません|取消|must|required|have to|need to|"
                             r"not allowed|penalt|prohibit|fine[sd]?\b|phải|bắt buộc|cấm|phạt|deve|obrigat|proibid|multa|necessári|"
                             r"必须|需要|禁止|罚|पर्छ|अनिवार्य|जरिवाना|dapat|kailangan|bawal|multa|ต้อง|ห้าม|ปรับ", re.I),
    "where": re.compile(r"窓口|市区町村|市役所|区役所|役場|出入国在留管理|入管|警察|交番|ハローワーク|年金事務所|税務署|保健|大使館|領事館|"
                        r"福祉事務所|病院|office|counter|city hall|police|immigration|embassy|quầy|cơ quan|cảnh sát|đại sứ|"
                        r"balcão|prefeitura|polícia|imigração|embaixada|窗口|警察|大使馆|कार्यालय|प्रहरी|opisina|pulis|"
                        r"สำนักงาน|ตำรวจ|สถานทูต"
                        # an organisation by its suffix: 労働局, 教育委員会, 日本年金機構, ...センター
                        r"|[\u4e00-\u9fff\u30a0-\u30ff]{2}(?:局|署|機構|委員会|センター|協会|事務所|組合|テラス)"
                        r"|\b(?:bureau|agency|centre|center|association|board of education)\b"
                        r"|trung tâm|văn phòng|\bcục\b|\bsở\b|centro|agência|secretaria|escritório|中心|机构|委员会", re.I),
    "bring": re.compile(r"持って|持参|提出|書類|証明書|在留カード|旅券|パスポート|印鑑|bring|document|certificate|passport|"
                        r"mang theo|giấy tờ|hộ chiếu|levar|documento|passaporte|携带|材料|证明|护照|ल्याउनु|कागजात|"
                        r"dalhin|dokumento|เอกสาร|พาสปอร์ต", re.I),
    "cost": re.compile(r"円|無料|手数料|費用|負担|割|fee|free|yen|cost|charge|phí|miễn phí|yên|taxa|grátis|gratuito|custo|"
                       r"免费|费用|日元|शुल्क|निःशुल्क|bayad|libre|ค่าธรรมเนียม|ฟรี|เยน", re.I),
    "eligible": re.compile(r"対象|条件|できます|受けられ|もらえ|以上|未満|eligible|entitled|can receive|if you|đối tượng|điều kiện|"
                           r"được nhận|elegível|direito|podem|对象|条件|可以|योग्य|पाउन|maaari|karapat|สิทธิ|มีสิทธิ์", re.I),
}
CAP = 3  # three kinds make a sentence as factual as it gets


def fact_kinds(text: str) -> list[str]:
    return [kind for kind, pattern in KINDS.items() if pattern.search(text)]


def fact_score(text: str) -> float:
    """0..1: how many kinds of key fact the sentence carries (``CAP`` or more is 1)."""
    return min(len(fact_kinds(text)), CAP) / CAP


_DAYS = re.compile(r"(\d+)\s*(日|days?|ngày|dias?|天|araw|दिन|วัน|か月|ヶ月|カ月|months?|tháng|meses|mês|个月|buwan|महिना|เดือน)", re.I)
_MONTHS = re.compile(r"か月|ヶ月|カ月|month|tháng|mes|mês|个月|buwan|महिना|เดือน", re.I)


def deadline_days(text: str) -> int | None:
    """The shortest period a text names, in days (30 for a month), for putting urgent things first."""
    found = [int(n) * (30 if _MONTHS.match(unit) else 1) for n, unit in _DAYS.findall(text)]
    return min(found) if found else None
