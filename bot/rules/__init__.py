"""Auto-replies, admin control, per-chat settings and abuse control, managed from the chat itself."""
