"""Policy release or not (monitor/understanding/policy.py): a document issued by a government body opens the
3-working-day interpretation deadline; a citizen's message that names a regulation does not (issue 15).

The expected answers follow from the rules in the module's docstring, written before looking at its output.
"""

from __future__ import annotations


import pytest

from monitor.understanding.policy import is_policy

# Documents issued by a government body: document numbers, an issuer + 关于…的 + document type, 印发/转发
# notices, strong document types, bare document names, interpretations.
POLICIES = [
    "西山区人民政府办公室关于印发《西山区政务公开工作要点》的通知",
    "西政办发〔2026〕12号",
    "云政发[2021]5号 云南省人民政府关于进一步加强安全生产工作的意见",
    "关于进一步做好就业工作的通知（昆政办发［2026］8号）",
    "昆明市民政局 昆明市财政局关于调整最低生活保障标准的通知",
    "西山区民政局关于调整最低生活保障标准的通知",
    "关于调整最低生活保障标准的通知",
    "关于加快发展保障性租赁住房的实施意见",
    "云南省人民政府办公厅关于加快发展保障性租赁住房的实施意见",
    "国务院关于进一步优化营商环境更好服务市场主体的意见",
    "中共西山区委 西山区人民政府关于加强基层治理体系和治理能力建设的实施意见",
    "西山区卫生健康局关于印发西山区家庭医生签约服务实施方案的通知",
    "西山区人民政府关于印发西山区2026年政务公开工作要点的通知（西政发〔2026〕3号）",
    "关于转发省财政厅关于规范政府采购工作的通知的通知",
    "关于废止部分行政规范性文件的决定",
    "西山区住房城乡建设局关于规范物业服务投诉举报处理工作的通知",  # the subject may say 投诉举报
    "关于进一步做好稳就业工作的若干措施",
    "西山区人民政府关于促进民营经济发展的若干措施",
    "西山区教育体育局关于义务教育阶段学校招生入学的实施细则",
    "昆明市人民政府关于修改《昆明市城市管理办法》的决定",
    "西山区人民政府办公室印发《西山区促进消费若干措施》",
    "西山区养犬管理规定",
    "昆明市物业管理条例",
    "云南省养犬管理条例（草案）",
    "西山区2026年优化营商环境行动方案",
    "《西山区人才引进实施办法（试行）》",
    "《关于调整城乡居民基本医疗保险筹资标准的通知》",
    "《西山区最低生活保障标准调整方案》政策解读",
    "关于《西山区养犬管理规定》的政策解读",
    "一图读懂《西山区促进消费若干措施》",
    "财社〔2021〕12号 财政部 民政部关于进一步做好困难群众基本生活保障工作的通知",
    "西山区人民政府关于做好2026年春耕生产工作的指导意见",
    "关于加强网吧管理的通知",  # 吧 is no question here
    "关于规范政务咨询服务工作的通知",  # nor is 咨询 as the subject
    "西山区12345热线群众诉求办理工作规定",
    "转发：西山区民政局关于调整最低生活保障标准的通知",
]

# Citizens' messages (complaints, questions, suggestions) that name a regulation or a document, and messages
# that are no document at all.
NOT_POLICIES = [
    "关于西山区养犬条例的咨询",
    "投诉物业不执行《物业管理条例》",
    "请问《西山区人才引进实施办法》什么时候实施",
    "请问《XX办法》什么时候实施",
    "建议修改《物业管理条例》第十二条",
    "为什么不执行低保标准调整的通知",
    "能否公开西政办发〔2026〕12号文件",
    "西政办发〔2026〕12号文件什么时候执行？",
    "反映小区物业违反《物业管理条例》乱收费",
    "关于《西山区养犬管理规定》的几点意见",
    "关于A市道路建设的意见",
    "关于小区停车管理办法的建议",
    "咨询最低生活保障标准调整的通知内容",
    "为什么我家不符合保障性租赁住房实施意见的条件",
    "希望尽快出台养犬管理规定",
    "西山区政府及相关部门违反信访条例！",
    "物业公司不执行《西山区物业服务收费管理办法》",
    "小区业主关于物业费标准的投诉",
    "请问政策解读在哪里看",
    "咨询E市邵公复决字【2018】0088号行政复议决定书相关问题",
    "请督促法院跟进超期未判的（2018）云0112民初1057号一案",
    "对《西山区老旧小区改造实施方案》的质疑",
    "西山区教育体育局发布的2026年中考招生录取方案的疑问",
    "能否放宽《昆明市人才购房补贴实施办法》的条件？",
    "马街街道化工厂爆炸12人死亡",
    "地铁3号线施工噪音扰民",
    "关于召开2026年安全生产工作会议的通知",
    "关于2026年春节放假安排的通知",
    "西山区自来水公司关于停水的通知",
    "盼根治交通拥堵的办法",
    "关于国网某县供电公司违反《中央八项规定》的报告",
    "我想了解2026年的最低工资标准",
    "物业管理条例第11条所列情形包括哪些",
]


@pytest.mark.parametrize("title", POLICIES)
def test_policy_releases_are_policies(title):
    decided, reason = is_policy(title, "")
    assert decided, title
    assert reason.startswith("政策文件：")


@pytest.mark.parametrize("title", NOT_POLICIES)
def test_citizens_messages_naming_a_regulation_are_not(title):
    decided, _ = is_policy(title, "")
    assert not decided, title


def test_enough_hand_written_cases():
    assert len(POLICIES) + len(NOT_POLICIES) >= 40 and len(set(POLICIES) & set(NOT_POLICIES)) == 0


def test_reasons_say_why():
    assert is_policy("西政办发〔2026〕12号", "")[1] == "政策文件：发文字号「西政办发〔2026〕12号」"
    assert "西山区民政局" in is_policy("西山区民政局关于调整最低生活保障标准的通知", "")[1]
    assert "政策解读" in is_policy("关于《西山区养犬管理规定》的政策解读", "")[1]
    decided, reason = is_policy("投诉物业不执行《物业管理条例》", "")
    assert not decided and "群众诉求" in reason and "投诉" in reason
    # nothing document-like: no reason at all (it would only clutter every incident's reasons)
    assert is_policy("地铁3号线施工噪音扰民", "") == (False, "")
    assert is_policy("", "") == (False, "")


def test_a_document_number_at_the_head_of_the_body_makes_a_documents_title_a_policy():
    title = "关于加强基层治理的意见"
    assert is_policy(title, "") == (False, "")  # 意见 alone: a citizen writes that too
    assert is_policy(title, "西政发〔2026〕3号 各街道办事处，区级各部门：…")[0]
    # the understander passes its prepared text, which starts with the title
    assert is_policy(title, f"{title} 西政发〔2026〕3号 各街道办事处，区级各部门：…")[0]
    # a number cited later in a citizen's text is no header
    assert not is_policy(title, "我们小区的问题反映多次没有解决。按照西政发〔2026〕3号文件……")[0]
    # and a citizen's title stays a citizen's whatever the body says
    assert not is_policy("咨询基层治理的意见", "西政发〔2026〕3号")[0]


def test_full_width_and_spaces():
    assert is_policy("西政办发〔２０２６〕１２号", "")[0]
    assert is_policy("  西山区民政局关于调整最低生活保障标准的通知。 ", "")[0]


def test_no_real_citizen_message_is_a_policy(shared_data):
    """The shared 12345 and 留言板 messages are all citizens' (the old title-word guess made 9 of them policies,
    so each opened an interpretation deadline only made-up evidence could close)."""
    from python_calamine import CalamineWorkbook

    from tests.test_understand_golden import shared_messages

    messages = [(title, body) for _, title, body in shared_messages()]
    rows = CalamineWorkbook.from_path(str(shared_data / "raw" / "fuzhou12345_heichou_1464.xlsx")) \
        .get_sheet_by_index(0).to_python()
    column = rows[0].index("标题")
    messages += [(str(r[column]), "") for r in rows[1:]]
    assert len(messages) == 10_286 + 1_464
    called = sorted({title for title, body in messages if is_policy(title, body)[0]})
    assert called == []


@pytest.fixture(scope="module")
def understander():
    from monitor.config.settings import BUNDLED_CONFIG
    from monitor.understanding.jurisdiction import load_jurisdiction
    from monitor.understanding.understander import Understander

    return Understander.load(BUNDLED_CONFIG / "lexicons",
                             load_jurisdiction(BUNDLED_CONFIG / "jurisdictions/xishan.yaml"), 0.35)


def test_the_understander_uses_it(understander):
    [complaint, notice, numbered] = understander.understand_many([
        ("投诉物业不执行《物业管理条例》", "小区物业公司不按条例公示收费，要求整改"),
        ("西山区民政局关于调整最低生活保障标准的通知", "各街道办事处：经区人民政府同意，现将调整城乡最低生活保障标准有关事项通知如下。"),
        ("关于加快发展保障性租赁住房的意见", "西政发〔2026〕7号 各街道办事处，区级各部门：……"),
    ])
    assert (complaint.kind, notice.kind, numbered.kind) == ("incident", "policy", "policy")
