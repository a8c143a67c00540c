from services.common.serve import serve
from services.intake.app import create_app

serve("intake", create_app)
