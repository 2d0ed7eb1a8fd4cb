from common.migrate import run_env
from services.matching.models import Base

run_env(Base.metadata)
