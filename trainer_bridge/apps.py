from django.apps import AppConfig


class TrainerBridgeConfig(AppConfig):
    name = "trainer_bridge"
