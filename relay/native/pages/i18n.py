"""The pages' own words in English, 简体中文, 日本語 and Português, chosen from the reader's ``Accept-Language``.

Only the plugin's words are translated; an app's text reaches the page untouched. Error *messages* stay in
English: they are the contract's text, the same for programs and people; the page around them (heading,
plain-words explanation, buttons) is translated. An English string is its own key; every string the pages
use is in every catalog (``tests/unit/test_i18n.py`` reads the templates and the code to make sure), so English
shows only for words that come from elsewhere (a run state Dify adds one day).
"""

from collections.abc import Callable

from werkzeug import Request

LANGUAGES = {"en": "en", "zh": "zh_Hans", "ja": "ja_JP", "pt": "pt_BR"}
"""``Accept-Language`` primary tags -> Dify's language codes (those of the manifest and the settings form)."""
HTML_LANG = {"en": "en", "zh_Hans": "zh-Hans", "ja_JP": "ja", "pt_BR": "pt"}

Translate = Callable[[str], str]

STATUS_WORDS = (
    "running",
    "succeeded",
    "failed",
    "stopped",
    "partial-succeeded",
    "exception",
    "retry",
    "paused",
    "unknown",
)
"""The states of a run or a node as Dify names them (and the page's own "running"), shown translated.

Dify may add states; one the catalogs lack is shown as Dify wrote it.
"""

_ZH = {
    "Chat app": "聊天应用",
    "Workflow app": "工作流应用",
    "Completion app": "文本生成应用",
    "through App Relay": "由 App Relay 提供",
    "You": "你",
    "Answer": "回答",
    "Streamed text": "流式文本",
    "Answer replaced": "回答已替换",
    "File": "文件",
    "Used": "使用了",
    "Thinking": "思考中",
    "Input": "输入",
    "Observation": "观察结果",
    "Result": "结果",
    "elapsed": "耗时",
    "tokens": "tokens",
    "price": "费用",
    "The app stopped with an error.": "应用因错误而停止。",
    "Done.": "完成。",
    "Reply": "回复",
    "Ask again": "再问一次",
    "Send": "发送",
    "Run": "运行",
    "Run again": "再次运行",
    "Inputs used": "使用的输入",
    "New conversation": "新对话",
    "Try": "试试",
    "Message": "消息",
    "Ask something…": "问点什么……",
    "App": "应用",
    "API key": "API 密钥",
    "Continue": "继续",
    "Workflow progress": "工作流进度",
    "running": "运行中",
    "succeeded": "成功",
    "failed": "失败",
    "stopped": "已停止",
    "partial-succeeded": "部分成功",
    "exception": "异常",
    "retry": "重试",
    "paused": "已暂停",
    "unknown": "未知",
    "(file)": "（文件）",
    "({} files)": "（{} 个文件）",
    "Earlier in this conversation": "本次对话的先前内容",
    "Technical details": "技术细节",
    "This form cannot send these inputs: {}.": "此表单无法发送这些输入：{}。",
    "The request could not be understood": "无法理解该请求",
    "An api key is needed": "需要 API 密钥",
    "This app is not available here": "此处无法使用该应用",
    "No such app": "没有这个应用",
    "The request is too large": "请求过大",
    "The app could not be run": "应用无法运行",
    "Something went wrong": "出了点问题",
    "This endpoint is not set up yet": "此端点尚未配置",
    "This endpoint's settings need fixing": "此端点的设置需要修正",
    "No such conversation": "没有这个对话",
    "This page is protected. Type the key you were given to continue.": "此页面受保护。请输入你获得的密钥以继续。",
    "That key is not valid here. Check it and type it again.": "这个密钥在这里无效。请检查后重新输入。",
    "Back to the app's form": "返回应用的表单",
    "The administrator of this Dify workspace has not chosen yet which apps this address serves. In Dify: "
    "Plugins → App Relay → Endpoints, edit this endpoint and fill in “Allowed apps” (or * for every app).": (
        "此 Dify 工作区的管理员尚未选择此地址提供哪些应用。在 Dify 中：插件 → App Relay → 端点，"
        "编辑此端点并填写“允许的应用”（或填 * 表示所有应用）。"
    ),
    "This app looks like a chat app:": "这个应用看起来是聊天应用：",
    "open it as a chat": "以聊天方式打开",
    "This is a chat app:": "这是一个聊天应用：",
    "This is a workflow app:": "这是一个工作流应用：",
    "This is a completion app:": "这是一个文本生成应用：",
    "open it at its own path": "在它自己的路径下打开",
    "Input needed": "需要输入",
    "The app waits for a person to fill in a form in Dify.": "应用正在等待有人在 Dify 中填写表单。",
    "Input given": "已输入",
    "The form was filled in.": "表单已填写。",
    "Input timed out": "输入超时",
    "Nobody filled in the form in time.": "没有人及时填写表单。",
    "Paused": "已暂停",
    "The run is paused until a person answers in Dify; it goes on there, not on this page.": (
        "运行已暂停，等待有人在 Dify 中回复；之后会在 Dify 中继续，而不是在此页面。"
    ),
}

_JA = {
    "Chat app": "チャットアプリ",
    "Workflow app": "ワークフローアプリ",
    "Completion app": "テキスト生成アプリ",
    "through App Relay": "App Relay 経由",
    "You": "あなた",
    "Answer": "回答",
    "Streamed text": "ストリーミングテキスト",
    "Answer replaced": "回答が置き換えられました",
    "File": "ファイル",
    "Used": "使用",
    "Thinking": "思考中",
    "Input": "入力",
    "Observation": "観察結果",
    "Result": "結果",
    "elapsed": "所要時間",
    "tokens": "トークン",
    "price": "料金",
    "The app stopped with an error.": "アプリはエラーで停止しました。",
    "Done.": "完了。",
    "Reply": "返信",
    "Ask again": "もう一度質問",
    "Send": "送信",
    "Run": "実行",
    "Run again": "もう一度実行",
    "Inputs used": "使用した入力",
    "New conversation": "新しい会話",
    "Try": "試す",
    "Message": "メッセージ",
    "Ask something…": "何か質問してください…",
    "App": "アプリ",
    "API key": "API キー",
    "Continue": "続ける",
    "Workflow progress": "ワークフローの進行状況",
    "running": "実行中",
    "succeeded": "成功",
    "failed": "失敗",
    "stopped": "停止",
    "partial-succeeded": "一部成功",
    "exception": "例外",
    "retry": "再試行",
    "paused": "一時停止",
    "unknown": "不明",
    "(file)": "（ファイル）",
    "({} files)": "（ファイル {} 件）",
    "Earlier in this conversation": "この会話のこれまで",
    "Technical details": "技術的な詳細",
    "This form cannot send these inputs: {}.": "このフォームでは次の入力を送信できません：{}。",
    "The request could not be understood": "リクエストを理解できませんでした",
    "An api key is needed": "API キーが必要です",
    "This app is not available here": "このアプリはここでは利用できません",
    "No such app": "アプリが見つかりません",
    "The request is too large": "リクエストが大きすぎます",
    "The app could not be run": "アプリを実行できませんでした",
    "Something went wrong": "問題が発生しました",
    "This endpoint is not set up yet": "このエンドポイントはまだ設定されていません",
    "This endpoint's settings need fixing": "このエンドポイントの設定を修正する必要があります",
    "No such conversation": "会話が見つかりません",
    "This page is protected. Type the key you were given to continue.": "このページは保護されています。続けるには、渡されたキーを入力してください。",
    "That key is not valid here. Check it and type it again.": "このキーはここでは有効ではありません。確認して、もう一度入力してください。",
    "Back to the app's form": "アプリのフォームに戻る",
    "The administrator of this Dify workspace has not chosen yet which apps this address serves. In Dify: "
    "Plugins → App Relay → Endpoints, edit this endpoint and fill in “Allowed apps” (or * for every app).": (
        "この Dify ワークスペースの管理者は、このアドレスで提供するアプリをまだ選んでいません。Dify で："
        "プラグイン → App Relay → エンドポイント、このエンドポイントを編集して「許可するアプリ」を入力してください"
        "（すべてのアプリなら *）。"
    ),
    "This app looks like a chat app:": "このアプリはチャットアプリのようです：",
    "open it as a chat": "チャットとして開く",
    "This is a chat app:": "これはチャットアプリです：",
    "This is a workflow app:": "これはワークフローアプリです：",
    "This is a completion app:": "これはテキスト生成アプリです：",
    "open it at its own path": "専用のパスで開く",
    "Input needed": "入力が必要です",
    "The app waits for a person to fill in a form in Dify.": "アプリは Dify でフォームが入力されるのを待っています。",
    "Input given": "入力済み",
    "The form was filled in.": "フォームが入力されました。",
    "Input timed out": "入力の期限切れ",
    "Nobody filled in the form in time.": "期限内にフォームが入力されませんでした。",
    "Paused": "一時停止中",
    "The run is paused until a person answers in Dify; it goes on there, not on this page.": (
        "実行は Dify で誰かが回答するまで一時停止しています。続きはこのページではなく Dify で行われます。"
    ),
}

_PT = {
    "Chat app": "App de chat",
    "Workflow app": "App de workflow",
    "Completion app": "App de geração de texto",
    "through App Relay": "via App Relay",
    "You": "Você",
    "Answer": "Resposta",
    "Streamed text": "Texto em fluxo",
    "Answer replaced": "Resposta substituída",
    "File": "Arquivo",
    "Used": "Usou",
    "Thinking": "Pensando",
    "Input": "Entrada",
    "Observation": "Observação",
    "Result": "Resultado",
    "elapsed": "tempo",
    "tokens": "tokens",
    "price": "custo",
    "The app stopped with an error.": "O app parou com um erro.",
    "Done.": "Concluído.",
    "Reply": "Responder",
    "Ask again": "Perguntar de novo",
    "Send": "Enviar",
    "Run": "Executar",
    "Run again": "Executar de novo",
    "Inputs used": "Entradas usadas",
    "New conversation": "Nova conversa",
    "Try": "Experimente",
    "Message": "Mensagem",
    "Ask something…": "Pergunte algo…",
    "App": "App",
    "API key": "Chave de API",
    "Continue": "Continuar",
    "Workflow progress": "Progresso do workflow",
    "running": "em execução",
    "succeeded": "sucesso",
    "failed": "falhou",
    "stopped": "interrompido",
    "partial-succeeded": "sucesso parcial",
    "exception": "exceção",
    "retry": "nova tentativa",
    "paused": "pausado",
    "unknown": "desconhecido",
    "(file)": "(arquivo)",
    "({} files)": "({} arquivos)",
    "Earlier in this conversation": "Antes nesta conversa",
    "Technical details": "Detalhes técnicos",
    "This form cannot send these inputs: {}.": "Este formulário não pode enviar estas entradas: {}.",
    "The request could not be understood": "A requisição não pôde ser entendida",
    "An api key is needed": "É preciso uma chave de API",
    "This app is not available here": "Este app não está disponível aqui",
    "No such app": "App não encontrado",
    "The request is too large": "A requisição é grande demais",
    "The app could not be run": "O app não pôde ser executado",
    "Something went wrong": "Algo deu errado",
    "This endpoint is not set up yet": "Este endpoint ainda não foi configurado",
    "This endpoint's settings need fixing": "As configurações deste endpoint precisam de correção",
    "No such conversation": "Conversa não encontrada",
    "This page is protected. Type the key you were given to continue.": "Esta página é protegida. Digite a chave que você recebeu para continuar.",
    "That key is not valid here. Check it and type it again.": "Essa chave não é válida aqui. Confira e digite de novo.",
    "Back to the app's form": "Voltar ao formulário do app",
    "The administrator of this Dify workspace has not chosen yet which apps this address serves. In Dify: "
    "Plugins → App Relay → Endpoints, edit this endpoint and fill in “Allowed apps” (or * for every app).": (
        "O administrador deste workspace do Dify ainda não escolheu quais apps este endereço serve. No Dify: "
        "Plugins → App Relay → Endpoints, edite este endpoint e preencha “Apps permitidos” (ou * para todos)."
    ),
    "This app looks like a chat app:": "Este app parece ser um app de chat:",
    "open it as a chat": "abrir como chat",
    "This is a chat app:": "Este é um app de chat:",
    "This is a workflow app:": "Este é um app de workflow:",
    "This is a completion app:": "Este é um app de geração de texto:",
    "open it at its own path": "abrir no endereço dele",
    "Input needed": "Entrada necessária",
    "The app waits for a person to fill in a form in Dify.": "O app aguarda que alguém preencha um formulário no Dify.",
    "Input given": "Entrada recebida",
    "The form was filled in.": "O formulário foi preenchido.",
    "Input timed out": "Entrada expirada",
    "Nobody filled in the form in time.": "Ninguém preencheu o formulário a tempo.",
    "Paused": "Pausado",
    "The run is paused until a person answers in Dify; it goes on there, not on this page.": (
        "A execução está pausada até que alguém responda no Dify; ela continua lá, não nesta página."
    ),
}

CATALOGS: dict[str, dict[str, str]] = {"en": {}, "zh_Hans": _ZH, "ja_JP": _JA, "pt_BR": _PT}


def language_of(request: Request) -> str:
    """The reader's language among ours, from ``Accept-Language`` (English when none fits)."""
    offered = {tag: code for tag, code in LANGUAGES.items()}
    best = request.accept_languages.best_match(list(offered), default="en")
    return offered.get(best.split("-")[0].lower(), "en") if best else "en"


def translator(language: str) -> Translate:
    catalog = CATALOGS.get(language, {})
    return lambda text: catalog.get(text, text)
