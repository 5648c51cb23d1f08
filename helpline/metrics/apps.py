from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "helpline.metrics"
    label = "metrics"
    verbose_name = "Aggregate statistics"
