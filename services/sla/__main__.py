from services.common.serve import serve
from services.sla.app import create_app

serve("sla", create_app)
