"""The Shipments API: the app berth deploys (app room)."""
