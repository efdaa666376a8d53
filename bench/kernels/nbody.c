/* nbody: the Jovian planets and the sun, symplectic steps of 0.01 days. */
#include "v_print.h"

#define PI 3.141592653589793
#define DAYS_PER_YEAR 365.24

struct body {
    double x, y, z, vx, vy, vz, mass;
};

static struct body *body(double x, double y, double z, double vx, double vy, double vz, double mass) {
    double solar_mass = 4.0 * PI * PI;
    struct body *b = v_alloc(sizeof *b);
    b->x = x;
    b->y = y;
    b->z = z;
    b->vx = vx * DAYS_PER_YEAR;
    b->vy = vy * DAYS_PER_YEAR;
    b->vz = vz * DAYS_PER_YEAR;
    b->mass = mass * solar_mass;
    return b;
}

static void offset_momentum(struct body **bodies, int64_t n) {
    double px = 0.0, py = 0.0, pz = 0.0;
    for (int64_t i = 0; i < n; i++) {
        struct body *b = bodies[i];
        px = px + b->vx * b->mass;
        py = py + b->vy * b->mass;
        pz = pz + b->vz * b->mass;
    }
    double solar_mass = 4.0 * PI * PI;
    struct body *sun = bodies[0];
    sun->vx = -px / solar_mass;
    sun->vy = -py / solar_mass;
    sun->vz = -pz / solar_mass;
}

static double energy(struct body **bodies, int64_t n) {
    double e = 0.0;
    for (int64_t i = 0; i < n; i++) {
        struct body *b = bodies[i];
        e = e + 0.5 * b->mass * (b->vx * b->vx + b->vy * b->vy + b->vz * b->vz);
        for (int64_t j = i + 1; j < n; j++) {
            struct body *b2 = bodies[j];
            double dx = b->x - b2->x, dy = b->y - b2->y, dz = b->z - b2->z;
            e = e - b->mass * b2->mass / sqrt(dx * dx + dy * dy + dz * dz);
        }
    }
    return e;
}

static void advance(struct body **bodies, int64_t n, double dt) {
    for (int64_t i = 0; i < n; i++) {
        struct body *bi = bodies[i];
        for (int64_t j = i + 1; j < n; j++) {
            struct body *bj = bodies[j];
            double dx = bi->x - bj->x, dy = bi->y - bj->y, dz = bi->z - bj->z;
            double d2 = dx * dx + dy * dy + dz * dz;
            double mag = dt / (d2 * sqrt(d2));
            bi->vx = bi->vx - dx * bj->mass * mag;
            bi->vy = bi->vy - dy * bj->mass * mag;
            bi->vz = bi->vz - dz * bj->mass * mag;
            bj->vx = bj->vx + dx * bi->mass * mag;
            bj->vy = bj->vy + dy * bi->mass * mag;
            bj->vz = bj->vz + dz * bi->mass * mag;
        }
    }
    for (int64_t i = 0; i < n; i++) {
        struct body *b = bodies[i];
        b->x = b->x + dt * b->vx;
        b->y = b->y + dt * b->vy;
        b->z = b->z + dt * b->vz;
    }
}

int main(int argc, char **argv) {
    int64_t steps = v_size_arg(argc, argv, 15000000);
    struct body *bodies[5] = {
        body(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0),
        body(4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01,
             1.66007664274403694e-03, 7.69901118419740425e-03, -6.90460016972063023e-05,
             9.54791938424326609e-04),
        body(8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01,
             -2.76742510726862411e-03, 4.99852801234917238e-03, 2.30417297573763929e-05,
             2.85885980666130812e-04),
        body(1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01,
             2.96460137564761618e-03, 2.37847173959480950e-03, -2.96589568540237556e-05,
             4.36624404335156298e-05),
        body(1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01,
             2.68067772490389322e-03, 1.62824170038242295e-03, -9.51592254519715870e-05,
             5.15138902046611451e-05),
    };
    offset_momentum(bodies, 5);
    v_print_str("energy before: ");
    v_print_float(energy(bodies, 5));
    for (int64_t i = 0; i < steps; i++) advance(bodies, 5, 0.01);
    v_print_str("energy after: ");
    v_print_float(energy(bodies, 5));
    v_print_str("sun x: ");
    v_print_float(bodies[0]->x);
    return 0;
}
