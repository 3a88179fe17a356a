from adapters.telegram import TelegramAdapter
from tests.fakes.telegram_api import FakeTelegramServer


async def test_dm(adapter: TelegramAdapter, telegram_server: FakeTelegramServer) -> None:
    _, message_id = await telegram_server.push_message("hello bot")
    await telegram_server.wait_for(lambda: telegram_server.state.sent)
    print(telegram_server.state.sent, telegram_server.state.calls[:10], telegram_server.state.commands)
