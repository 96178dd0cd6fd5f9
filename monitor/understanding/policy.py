"""Is this message the release of a policy document (政策文件发布)? Pure, one call per message.

A policy release opens the 3-working-day interpretation deadline (docs/design.md §1), which only a real
interpretation closes, so a false "yes" makes the office invent evidence and a false "no" misses the law.
A policy release is a document a government body issues:

- it carries a document number (发文字号): 西政办发〔2026〕12号, 云政发[2021]5号, 财社［2021］12号;
- its title is the document's: an issuing body, then 关于…的 + a document type (…人民政府办公室关于印发…的通知,
  …局关于调整最低生活保障标准的通知, 关于加快发展保障性租赁住房的实施意见), or a bare document name
  (西山区养犬管理规定, 《…实施办法》);
- or it is the interpretation itself (政策解读).

Not a policy release: a citizen's complaint, question or suggestion that names a regulation (关于西山区养犬条例
的咨询, 投诉物业不执行《物业管理条例》, 请问《XX办法》什么时候实施, 关于A市道路建设的意见). The citizen's voice
(咨询/投诉/建议/反映/请问, a question, an exclamation, 违反/不执行…) outside the quoted document name decides
against it. On the shared 12345/留言板 data (11,750 real citizen messages) no title is called a policy.

Only the title decides (and, for a title that is just a document's, a document number at the head of the
body). A compiled pre-check rejects the great majority of messages with one scan.
"""

from __future__ import annotations

import re

# ----------------------------------------------------------------------------- vocabulary
# Document types of normative and policy documents. 公告/通告/通报/批复/函 are left out on purpose: a road
# closure, an accident bulletin or an approval is not a policy that needs an interpretation.
_DOCTYPE = (r"(?:通知|实施意见|指导意见|若干意见|意见|(?:实施|管理|暂行|试行)?办法|(?:实施|工作|行动|试点|建设|改革)?方案"
            r"|(?:暂行|若干|管理|实施)?规定|(?:实施)?细则|决定|(?:管理)?条例|规划|纲要|(?:若干|具体|政策)?措施|指引"
            r"|标准|规则|准则|工作要点|要点|行动计划|实施计划|计划)")
# Without an issuing body in front, only these are unmistakably a government's (a citizen writes 意见, 办法).
_STRONG_DOCTYPE = (r"(?:通知|实施意见|指导意见|若干意见|(?:实施|管理|暂行|试行)办法|(?:实施|工作|行动|试点)方案"
                   r"|(?:暂行|若干|管理|实施)规定|实施细则|决定|管理条例|(?:若干|具体|政策)措施|工作要点|行动计划)")
# Optional trailers after the type: （试行）, （修订）, （征求意见稿）…
_TRAILER = r"(?:[（(](?:试行|暂行|修订|修订版|征求意见稿|草案|全文)[)）])?"
# Bodies that issue documents; an issuer is free text (a place, a department's name) ending in one of them.
_BODY = (r"(?:人民政府办公室|人民政府办公厅|人民政府|政府办公室|政府办公厅|政府|办公室|办公厅|人大常委会|常务委员会"
         r"|管理委员会|委员会|管委会|街道办事处|办事处|国务院|党委|[省市区县州]委|总局|分局|局|厅|委|办|部|署)")
# One lazy span ending in a body right before 关于: also 昆明市民政局 昆明市财政局 (joint issuers), without the
# nested repetition that could backtrack exponentially.
_ISSUERS = rf"(?:中共)?[\u4e00-\u9fffA-Za-z0-9\s、，,]{{0,60}}?{_BODY}"
# 〔2026〕12号 with 〔〕, [], ［］, 【】 or (); the issuer's abbreviation right before it (西政办发, 财社).
_DOCNO = re.compile(r"[\u4e00-\u9fff]{1,10}\s*[〔\[［【(（]\s*(?:19|20)\d{2}\s*[〕\]］】)）]\s*第?\s*\d{1,4}\s*号")

# The citizen's voice, searched outside 《…》 (a document's own name may say anything).
_VOICE_START = re.compile(
    r"^(?:关于对|对于|咨询|投诉|举报|建议|提议|反映|请问|请求|恳请|恳求|申请|希望|盼望|盼|呼吁|质疑|求助|强烈|坚决"
    r"|再次|紧急|请|问(?!责)|本人|我(?![市区县省州镇乡]))|^对(?!外)")
_VOICE_ANY = re.compile(
    r"[？?!！]|[吗呢么](?=$|[，,。\s])|为什么|为何|凭什么|能否|能不能|可否|可不可以|是否|有没有|有无|何时|什么时候|多久|怎么"
    r"|怎样|如何|哪些|哪里|哪个|啥|咨询(?!服务|工作|热线|平台|委员会|机构)|质疑|疑问|不执行|未执行|不落实|没有落实|未落实|违反"
    r"|不按|不符合|不合理|不公平|一刀切|霸王")
_VOICE_END = re.compile(
    r"的(?:咨询|投诉|举报|建议|意见建议|建议及意见|几点意见|修改意见|一些意见|看法|疑问|质疑|问题|求助|请求|诉求|反映|报告"
    r"|申请|呼吁|心声|再投诉举报|投诉举报)$|(?:事宜|问题|情况|一事|一案)$")

_INTERPRETATION = re.compile(r"政策解读|(?:解读|图解|一图读懂|一图看懂)\s*《|》\s*(?:的)?(?:政策)?(?:解读|图解)")
_PRINT = re.compile(r"关于(?:印发|转发|发布|公布|修订|废止)[^。；;]*的(?:通知|决定)$")
_ISSUED = re.compile(rf"^({_ISSUERS})\s*关于.+?的{_DOCTYPE}{_TRAILER}$")
_ISSUED_NAME = re.compile(rf"^({_ISSUERS})\s*(?:印发|发布|出台|公布|制定|修订)(?:了)?\s*《[^》]+》")
_ABOUT_STRONG = re.compile(rf"^关于.+?的{_STRONG_DOCTYPE}{_TRAILER}$")
# A bare document name: a place or body, a subject, and a type that only documents have (西山区养犬管理规定,
# XX市…实施办法; not …通知, which bare is a routine notice).
_BARE_DOCTYPE = (r"(?:(?:实施|管理|暂行|试行)办法|实施细则|(?:暂行|若干|管理|实施|工作)规定|条例|(?:实施|工作|行动)方案"
                 r"|若干措施|(?:实施|指导|若干)意见|行动计划|工作要点)")
_BARE_NAME = re.compile(rf"^[\u4e00-\u9fffA-Za-z0-9、“”\"]{{2,60}}?{_BARE_DOCTYPE}{_TRAILER}$")
_WHOLE_QUOTED = re.compile(rf"^《([^《》]+?{_DOCTYPE}{_TRAILER})》{_TRAILER}$")
# Routine administrative notices, not policies: meetings, outages, holidays, recruitment, public notices.
_ROUTINE = re.compile(r"召开|举办|停水|停电|停气|交通管制|放假|招聘|招录|录用|公示|报名|考试|会议")
_ANY_DOCTYPE_END = re.compile(rf"{_DOCTYPE}{_TRAILER}$")
# Names a document (for the reason given when a citizen's message does): 《…办法》, 条例, 政策解读, 印发.
_DOCUMENTISH = re.compile(rf"《[^《》]*{_DOCTYPE}{_TRAILER}》|{_BARE_DOCTYPE}|政策解读|印发")

# Pre-check: a title without any of these can be no policy (one scan; most messages stop here).
_PRECHECK = re.compile(r"[〔［【\[]|号|解读|图解|读懂|关于|印发|《|通知|意见|办法|方案|规定|细则|决定|条例|规划|纲要|措施"
                       r"|指引|标准|规则|准则|要点|计划")

_QUOTED = re.compile(r"《[^《》]*》")
_TRAILING_DOCNO = re.compile(r"[（(]?\s*[\u4e00-\u9fff]{1,10}\s*[〔\[［【(（]\s*(?:19|20)\d{2}\s*[〕\]］】)）]\s*第?\s*\d{1,4}"
                             r"\s*号\s*[)）]?$")
_EDGE = re.compile(r"^(?:[【\[](?:转发|转载|原创|头条|最新|重磅)[】\]]|(?:转发|转载)[:：])\s*|[\s。.…]+$")
_NARROW = {c: c - 0xFEE0 for c in range(0xFF10, 0xFF1A)}  # full-width digits (〔２０２６〕) → ASCII
BODY_HEAD = 60  # a document number counts in the body only in its header: the first characters, before any 。


def is_policy(title: str, body: str = "") -> tuple[bool, str]:
    """(whether the message releases a policy document, a Chinese reason). The reason is empty when nothing
    about the message looked like a policy; it says why a citizen's message naming a document is not one."""
    title = " ".join((title or "").translate(_NARROW).split())
    if not title or not _PRECHECK.search(title):
        return False, ""
    clean = _EDGE.sub("", title)
    outside = _QUOTED.sub("《》", clean)  # the citizen's words, without the document names they cite
    voice = _VOICE_START.search(outside) or _VOICE_ANY.search(outside) or _VOICE_END.search(outside)
    if voice:
        if _DOCNO.search(clean) or _DOCUMENTISH.search(clean):  # say why only when it named a document
            return False, f"提及政策文件，但为群众诉求（「{voice.group().strip('的') or voice.group()}」），不按政策发布处理"
        return False, ""
    docno = _DOCNO.search(clean)
    if docno:
        return True, f"政策文件：发文字号「{docno.group()}」"
    if _INTERPRETATION.search(clean):
        return True, "政策文件：政策解读"
    name = _TRAILING_DOCNO.sub("", clean).strip()
    if _PRINT.search(name):
        return True, "政策文件：印发/转发文件的通知"
    routine = _ROUTINE.search(_QUOTED.sub("《》", name))
    issued = _ISSUED.match(name)
    if issued and not routine:
        return True, f"政策文件：发文机关「{issued.group(1).strip()}」关于…的{_kind_of(name)}"
    issued = _ISSUED_NAME.match(name)
    if issued:
        return True, f"政策文件：发文机关「{issued.group(1).strip()}」发布《…》"
    if _ABOUT_STRONG.match(name) and not routine:
        return True, f"政策文件：标题为「关于…的{_kind_of(name)}」"
    quoted = _WHOLE_QUOTED.match(name)
    if quoted:
        return True, f"政策文件：标题即文件名《{quoted.group(1)}》"
    if _BARE_NAME.match(name) and not routine:
        return True, f"政策文件：标题即文件名（{_kind_of(name)}）"
    if _ANY_DOCTYPE_END.search(name):
        docno = _DOCNO.search(_header(title, body))
        if docno:
            return True, f"政策文件：正文开头有发文字号「{docno.group()}」"
    return False, ""


def _header(title: str, body: str) -> str:
    """The body's first characters up to the first full stop, without a leading copy of the title (the
    understander passes its prepared text, which starts with the title)."""
    body = " ".join((body or "")[:len(title) + 4 * BODY_HEAD].translate(_NARROW).split())
    if title and body.startswith(title):
        body = body[len(title):]
    elif title and body[:1] == title[:1]:  # a copy of the title with its full-width forms folded: skip its length
        return body[:len(title) + BODY_HEAD].split("。", 1)[0]
    return body[:BODY_HEAD].split("。", 1)[0]


def _kind_of(name: str) -> str:
    match = _ANY_DOCTYPE_END.search(name)
    return re.sub(r"[（(].*$", "", match.group()) if match else "文件"
