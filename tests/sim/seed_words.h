/* Word lists for the seed data (seed.c).  Only seed.c includes this. */
#ifndef FIELDSYNC_SIM_SEED_WORDS_H
#define FIELDSYNC_SIM_SEED_WORDS_H

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const first_names[] = {
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
    "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
    "Thomas", "Sarah", "Carlos", "Karen", "Daniel", "Lisa", "Matthew", "Nancy",
    "Anthony", "Betty", "Mark", "Sandra", "Priya", "Ashley", "Steven", "Kimberly",
    "Paul", "Emily", "Andrew", "Donna", "Joshua", "Michelle", "Wei", "Carol",
    "Kevin", "Amanda", "Brian", "Melissa", "Omar", "Deborah", "Luis", "Stephanie",
    "Hiroshi", "Rebecca", "Ahmed", "Laura", "Ryan", "Sharon", "Jacob", "Cynthia",
};

static const char *const last_names[] = {
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson",
    "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
    "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell",
    "Carter", "Roberts", "Patel", "Kim", "Chen", "Okafor", "Kowalski", "Novak",
};

static const char *const company_heads[] = {
    "Acme", "Summit", "Riverside", "Pinnacle", "Harbor", "Evergreen", "Lakeside",
    "Northgate", "Silverline", "Blue Ridge", "Cedar", "Granite", "Oakwood", "Redwood",
    "Keystone", "Liberty", "Meridian", "Sterling", "Horizon", "Ironwood", "Maple",
    "Prairie", "Coastal", "Frontier", "Golden Gate", "Highland", "Westfield", "Crescent",
    "Union", "Beacon", "Falcon", "Juniper", "Apex", "Sunrise", "Canyon", "Bayview",
};

static const char *const company_trades[] = {
    "Manufacturing", "Dental", "Logistics", "Foods", "Medical", "Hotels", "Properties",
    "Realty", "Printing", "Brewing", "Plastics", "Storage", "Fitness", "Motors",
    "Pharmacy", "Bakery", "Laboratories", "Data Centers", "Schools", "Office Park",
    "Cold Storage", "Apartments", "Textiles", "Veterinary", "Auto Body", "Cinemas",
};

static const char *const company_tails[] = {
    "Inc", "LLC", "Corporation", "Group", "Co", "Partners", "Holdings", "Ltd",
    "Company", "Associates",
};

static const char *const industries[] = {
    "Manufacturing", "Healthcare", "Hospitality", "Retail", "Real Estate",
    "Education", "Food Service", "Logistics", "Technology", "Government",
};

static const char *const employee_counts[] = {"1-10", "11-50", "51-200", "201-500", "500+"};

static const char *const street_names[] = {
    "Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill",
    "Park", "Walnut", "Sunset", "Lincoln", "Jackson", "Church", "Highland", "Mill",
    "River", "Spring", "Franklin", "Center", "Market", "Ridge", "Industrial",
};

static const char *const street_kinds[] = {"Street", "Avenue", "Road", "Boulevard",
                                           "Drive", "Lane", "Way", "Court", "Parkway"};

static const struct city {
    const char *city, *state, *zip;
} cities[] = {
    {"New York", "NY", "100"}, {"Boston", "MA", "021"}, {"Philadelphia", "PA", "191"},
    {"Newark", "NJ", "071"}, {"Hartford", "CT", "061"}, {"Atlanta", "GA", "303"},
    {"Miami", "FL", "331"}, {"Charlotte", "NC", "282"}, {"Nashville", "TN", "372"},
    {"Chicago", "IL", "606"}, {"Detroit", "MI", "482"}, {"Columbus", "OH", "432"},
    {"Minneapolis", "MN", "554"}, {"Denver", "CO", "802"}, {"Phoenix", "AZ", "850"},
    {"Seattle", "WA", "981"}, {"Portland", "OR", "972"}, {"San Diego", "CA", "921"},
    {"Sacramento", "CA", "958"}, {"Austin", "TX", "787"}, {"Dallas", "TX", "752"},
};

static const char *const branch_names[] = {"Northeast Region", "Southeast Region",
                                           "Midwest Region", "West Region"};

static const char *const contact_titles[] = {
    "Facilities Manager", "Operations Manager", "Office Manager", "Owner",
    "Maintenance Supervisor", "Property Manager", "Chief Engineer", "Accounts Payable",
    "Building Superintendent", "General Manager",
};

static const char *const customer_notes[] = {
    "VIP customer - priority service", "Gate code required at front entrance",
    "Call 30 minutes before arrival", "Parking at the rear loading dock",
    "Service only after 2 pm on weekdays", "Dog on premises",
    "Invoices go to the accounts payable contact", "Key box by the side door",
};

static const struct asset_kind {
    const char *type, *name, *const makers[3];
} asset_kinds[] = {
    {"hvac", "Rooftop HVAC Unit", {"Carrier", "Trane", "Lennox"}},
    {"hvac", "Split System Air Conditioner", {"Daikin", "Goodman", "Rheem"}},
    {"boiler", "Gas Boiler", {"Weil-McLain", "Burnham", "Viessmann"}},
    {"water_heater", "Tank Water Heater", {"A. O. Smith", "Bradford White", "Rheem"}},
    {"generator", "Standby Generator", {"Generac", "Kohler", "Cummins"}},
    {"refrigeration", "Walk-in Cooler", {"Hussmann", "Heatcraft", "True"}},
    {"fire_safety", "Fire Alarm Panel", {"Honeywell", "Siemens", "Edwards"}},
    {"plumbing", "Backflow Preventer", {"Watts", "Zurn", "Febco"}},
    {"electrical", "Main Switchboard", {"Eaton", "Square D", "ABB"}},
    {"elevator", "Passenger Elevator", {"Otis", "Schindler", "KONE"}},
};

static const char *const asset_locations[] = {"Roof", "Basement", "Mechanical Room",
                                              "Utility Closet", "Kitchen", "Garage",
                                              "Loading Dock", "Lobby", "Attic"};

static const char *const asset_statuses[] = {"active", "active", "active", "needs_service",
                                             "inactive"};

/* per work-order type (WO_TYPES order): descriptions and task names */
static const char *const wo_descriptions[5][4] = {
    {"Repair air conditioning unit", "No heat reported by tenant",
     "Water leak under sink", "Breaker keeps tripping"},
    {"Install new water heater", "Install thermostat upgrade",
     "Install backflow preventer", "Install standby generator"},
    {"Annual HVAC maintenance", "Quarterly generator service",
     "Boiler tune-up before winter", "Replace filters and clean coils"},
    {"Repair compressor failure", "Replace failed circulator pump",
     "Repair walk-in cooler door gasket", "Fix elevator door sensor"},
    {"Annual fire alarm inspection", "Backflow test and certification",
     "Pre-purchase building inspection", "Electrical safety inspection"},
};

static const char *const task_names[] = {
    "Inspect filters", "Check refrigerant levels", "Test safety controls",
    "Clean condenser coils", "Replace worn belts", "Verify thermostat operation",
    "Inspect electrical connections", "Flush system", "Record readings",
    "Photograph equipment tag", "Customer sign-off", "Test alarm devices",
};

static const char *const wo_notes[] = {
    "Customer requests morning appointment", "Bring ladder for roof access",
    "Parts ordered, awaiting delivery", "Check in at front desk",
    "Follow-up from previous visit",
};

#endif
