"""Everything the service itself says to citizens: short, polite, plain Chinese (with English for API errors)."""

from __future__ import annotations

APOLOGY = "抱歉，系统暂时有点忙，没能马上回答。您的消息已经记下了，恢复后会第一时间在这里回复您，不用重新发送。"
STILL_QUEUED = "已收到这条消息，系统恢复后会按顺序回复您。"
LATE_ANSWER = "系统已恢复。下面是对您刚才“{question}”的回复："
GAVE_UP = "抱歉，您的问题“{question}”暂时没能得到回答。您可以换个说法再问，或者说“转人工”请帮办人员帮您。"

# The hours and what the citizen may do while waiting follow from the desk (bot/helpdesk.py).
HANDOFF_NOTICE = "已为您登记人工帮办，帮办人员接入后会在这里回复您。不需要人工了，可以点“继续问智能助手”取消排队。"
WAITING_FOR_HELPER = "已收到，帮办人员会看到这条消息并尽快回复您。"
BACK_TO_BOT_BUTTON = "继续问智能助手"
BACK_TO_BOT = "好的，您可以继续向智能助手提问。如仍需人工帮办，随时说“转人工”。"
# The service handles this button itself; it never reaches Rasa.
BACK_TO_BOT_PAYLOAD = "/jsb_back_to_bot"

RATE_GOOD_LABEL = "好评"
RATE_BAD_LABEL = "差评"

TOO_LONG = "消息太长了（最多 {limit} 个字），请分几次发送。 / Message too long (max {limit} characters)."
EMPTY = "消息是空的，请输入您的问题。 / The message is empty."
RATE_LIMITED = "您发送得太快了，请稍等 {seconds} 秒再发。 / Too many messages; please wait {seconds} s."
BAD_FRAME = "无法识别这条消息（需要 JSON 文本）。 / Not understood: frames must be JSON text."
FRAME_FAILED = "这条消息没能处理，请稍后再试。 / This frame could not be handled; please try again later."
ORIGIN_NOT_ALLOWED = (
    "这个网站不能使用智能助手窗口（未在允许的网站列表中）。 / This page's origin may not open the widget."
)
BINARY_FRAME = "不支持二进制消息，请发送文字。 / Binary frames are not supported."
UNKNOWN_TYPE = "无法识别的消息类型：{kind} / Unknown frame type: {kind}"
HELLO_FIRST = "请先建立会话（hello）。 / Send a hello frame first."
UNKNOWN_CONVERSATION = "没有找到之前的会话，已为您开始新的会话。 / Unknown conversation id; a new one was started."
CLOSED_CONVERSATION = "之前的会话已结束，已为您开始新的会话。 / That conversation is closed; a new one was started."
LOGIN_LOCKED = "登录失败次数太多，请 {seconds} 秒后再试。 / Too many failed logins; try again in {seconds} s."
LOGIN_BUSY = "登录的人太多，请 {seconds} 秒后再试。 / Too many logins at once; try again in {seconds} s."
INVALID_JSON = "请求体不是合法的 JSON。 / The body is not valid JSON."
BAD_ENCODING = "请求体无法解码（Content-Encoding 与内容不符）。 / The body cannot be decoded (bad Content-Encoding)."
UNSUPPORTED_ENCODING = "不支持这种 Content-Encoding（只支持 gzip、deflate）。 / Unsupported Content-Encoding."
BODY_TOO_LARGE = "请求内容太大。 / Request body too large."
TOO_DEEP = "请求嵌套层数太多。 / The JSON is nested too deeply."
BAD_UNICODE = "文字里有无效的字符（不成对的代理项），请重新输入。 / Invalid Unicode (a lone surrogate)."
NUL_CHARACTER = "文字里有空字符（\\u0000），请重新输入。 / Text must not contain NUL characters."
NOTHING_TO_RATE = "这条消息不能评价。 / That message cannot be rated."

TELEGRAM_NOT_TEXT = "目前只能看懂文字消息。请用文字描述您要办的事，例如“办营业执照要带什么材料”。"
TELEGRAM_EDITED = "我看不到修改后的内容，请把修改后的问题重新发一遍。"
TELEGRAM_BUTTON_GONE = "这个按钮已失效，请直接输入您的问题。"
TELEGRAM_RATED = "谢谢您的评价！"
TELEGRAM_REASON_ASK = "很抱歉没能让您满意。请选一个主要原因，帮助我们整改："
TELEGRAM_REASON_THANKS = "已收到您的意见，我们会尽快核实整改。"
TELEGRAM_NEW_CONVERSATION = "已开始新的会话。请问您想办理什么事？"
