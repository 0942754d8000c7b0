from switchboard.common.migrations import run_env
from switchboard.metrics.models import Base

run_env(Base.metadata)
